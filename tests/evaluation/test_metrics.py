"""BCubed and pairwise scores, checked against hand-computed values."""

from __future__ import annotations

import pytest

from faceorganizer.evaluation.metrics import score


def test_perfect_clustering_scores_one() -> None:
    s = score(["a", "a", "b"], ["x", "x", "y"])
    assert (s.bcubed_precision, s.bcubed_recall, s.bcubed_f) == (1.0, 1.0, 1.0)
    assert (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1) == (1.0, 1.0, 1.0)
    assert (s.clusters, s.classes) == (2, 2)


def test_a_merge_costs_precision_a_split_costs_recall() -> None:
    # Truth: x x y y. Predicted: all four in one cluster.
    merged = score([1, 1, 1, 1], ["x", "x", "y", "y"])
    assert merged.bcubed_precision == pytest.approx(0.5)  # each item: 2 of its 4 cluster-mates
    assert merged.bcubed_recall == 1.0
    assert merged.pairwise_precision == pytest.approx(2 / 6)
    # Truth: x x x. Predicted: {1, 1} {2}.
    split = score([1, 1, 2], ["x", "x", "x"])
    assert split.bcubed_precision == 1.0
    assert split.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert split.pairwise_recall == pytest.approx(1 / 3)
    assert split.bcubed_f == pytest.approx(2 * 1 * (5 / 9) / (1 + 5 / 9))


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        score([1], [1, 2])
