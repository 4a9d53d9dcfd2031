"""Clustering scores against the truth: BCubed and pairwise precision, recall and F."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterScores:
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    clusters: int
    classes: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def score(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> ClusterScores:
    """Scores of a clustering (one label per item) against the true classes."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth must label the same items")
    n = len(truth)
    if n == 0:
        return ClusterScores(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0)
    joint = Counter(zip(predicted, truth, strict=True))
    cluster_size = Counter(predicted)
    class_size = Counter(truth)
    precision = sum(c * c / cluster_size[p] for (p, _), c in joint.items()) / n
    recall = sum(c * c / class_size[t] for (_, t), c in joint.items()) / n
    together = sum(_pairs(c) for c in joint.values())
    predicted_pairs = sum(_pairs(c) for c in cluster_size.values())
    true_pairs = sum(_pairs(c) for c in class_size.values())
    pair_p = together / predicted_pairs if predicted_pairs else 1.0
    pair_r = together / true_pairs if true_pairs else 1.0
    return ClusterScores(precision, recall, _f(precision, recall), pair_p, pair_r, _f(pair_p, pair_r),
                         clusters=len(cluster_size), classes=len(class_size))
