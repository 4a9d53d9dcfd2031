"""Personalising the embedder to one library: fine-tune on its confirmed people, check on
people the training did not see, and only then switch the library to the new weights.

The confirmed people (named people's faces and faces the user confirmed) are split by
person: a held-out share (at least two people) is never trained on. The bottleneck is
fine-tuned on the rest (``trainer``), and both weights embed the held-out faces:

- **clustering**: the library's own grouping (its settings, rescaled to each weights'
  distances) on the held-out faces, scored with BCubed F against the user's labels;
- **verification**: every held-out pair judged at the library's verify threshold;
- **look-alikes**: the closest 5% of different-person pairs (the look-alikes), their
  mean distance and how many fall under the threshold (false matches).

The weights' distance scale (how much training spread the embedding) is measured on
the held-out people too, since the training faces overstate it for people not trained
on, and written into the weights file. The new weights are accepted only if clustering
F and pair accuracy each drop by at most ``tolerance`` (0.3 points by default); the
figures are reported either way. The weights that are used are exactly the ones
measured (the held-out people are only used to check and to scale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from faceorganizer.evaluation.metrics import score
from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import ResolvedWeights, distance_scale, resolve
from faceorganizer.paths import written_atomically
from faceorganizer.people.clustering import cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.training.data import FaceSet
from faceorganizer.training.trainer import Report, TrainConfig, TrainingError, TrainResult, train

TOLERANCE = 0.003
LOOKALIKE_SHARE = 0.05


@dataclass(frozen=True)
class HeldOutScores:
    bcubed_f: float
    bcubed_precision: float
    bcubed_recall: float
    pair_accuracy: float
    false_matches: int        # different-person pairs under the verify threshold
    missed_matches: int       # same-person pairs over it
    lookalike_distance: float  # mean distance of the closest 5% of different-person pairs
    same_distance: float       # mean distance of same-person pairs

    @property
    def lookalike_ratio(self) -> float:
        """How much farther look-alikes are than the same person (scale-free; higher is better)."""
        return self.lookalike_distance / max(self.same_distance, 1e-9)


def held_out_scores(embeddings: np.ndarray, labels: np.ndarray, settings: PeopleSettings) -> HeldOutScores:
    """The scores of ``embeddings`` (one face each, ``labels`` its person) over every pair of faces.

    Needs at least two faces. Where there is no same-person pair (one face per person)
    ``same_distance`` is NaN, and where there is no different-person pair (one person)
    ``lookalike_distance`` is; the counts and the pair accuracy are over the pairs there are.
    """
    if len(embeddings) != len(labels):
        raise ValueError("embeddings and labels must describe the same faces")
    if len(labels) < 2:
        raise ValueError("the held-out scores need at least two faces")
    clusters = cluster(embeddings, settings.cluster_params)
    scores = score(clusters.tolist(), labels.tolist())
    threshold = settings.verify_threshold
    pairs, same_pairs = _pair_counts(labels)
    closest = _Smallest(max(1, int(round(LOOKALIKE_SHARE * (pairs - same_pairs)))))
    false_matches = missed_matches = 0
    same_sum = 0.0
    for distances, same in _pair_blocks(embeddings, labels):
        near = distances < threshold
        false_matches += int(np.count_nonzero(near & ~same))
        missed_matches += int(np.count_nonzero(~near & same))
        same_sum += float(distances[same].sum())
        closest.add(distances[~same])
    return HeldOutScores(
        bcubed_f=scores.bcubed_f, bcubed_precision=scores.bcubed_precision,
        bcubed_recall=scores.bcubed_recall,
        pair_accuracy=1.0 - (false_matches + missed_matches) / pairs,
        false_matches=false_matches, missed_matches=missed_matches,
        lookalike_distance=closest.mean(),
        same_distance=same_sum / same_pairs if same_pairs else float("nan"))


def mean_different(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """The mean squared distance between faces of different people (at least two people)."""
    if len(embeddings) != len(labels):
        raise ValueError("embeddings and labels must describe the same faces")
    pairs, same_pairs = _pair_counts(labels)
    if pairs == same_pairs:
        raise ValueError("the mean different-person distance needs faces of at least two people")
    total = sum(float(distances[~same].sum()) for distances, same in _pair_blocks(embeddings, labels))
    return total / (pairs - same_pairs)


# Pairs of faces per block of rows in ``_pair_blocks`` (2 MiB of float64 distances).
BLOCK_PAIRS = 1 << 18


def _pair_counts(labels: np.ndarray) -> tuple[int, int]:
    """(all pairs of faces, same-person pairs), from the labels alone."""
    n = len(labels)
    counts = np.unique(labels, return_counts=True)[1].astype(np.int64)
    return n * (n - 1) // 2, int(np.sum(counts * (counts - 1) // 2))


def _pair_blocks(embeddings: np.ndarray, labels: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The squared L2 distance and same-person flag of every pair of faces i < j, a block of
    rows at a time: ``|a|^2 + |b|^2 - 2 a.b`` in float64 over the upper triangle, so memory
    stays near ``BLOCK_PAIRS`` pairs however many faces there are."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(vectors)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    rows = max(1, BLOCK_PAIRS // max(1, n))
    for start in range(0, n - 1, rows):
        stop = min(n, start + rows)
        distances = vectors[start:stop] @ vectors[start:].T
        distances *= -2.0
        distances += norms[start:stop, None]
        distances += norms[None, start:]
        np.maximum(distances, 0.0, out=distances)
        upper = np.arange(start, n)[None, :] > np.arange(start, stop)[:, None]
        same = labels[start:stop, None] == labels[None, start:]
        yield distances[upper], same[upper]


class _Smallest:
    """The ``k`` smallest of many values given a block at a time, in memory for about 2k of
    them: candidates no smaller than the k-th smallest so far are dropped on arrival."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.kept = [np.zeros(0)]
        self.size = 0
        self.bound = np.inf

    def add(self, values: np.ndarray) -> None:
        values = values[values < self.bound]
        self.kept.append(values)
        self.size += len(values)
        if self.size >= 2 * self.k:
            self._compact()

    def _compact(self) -> None:
        values = np.concatenate(self.kept)
        if len(values) > self.k:
            values.partition(self.k - 1)  # a fresh array: in place
            values = values[:self.k].copy()
            self.bound = float(values[-1])
        self.kept, self.size = [values], len(values)

    def mean(self) -> float:
        """The mean of the k smallest values (of all of them, if fewer); NaN if none."""
        self._compact()
        return float(self.kept[0].mean()) if self.size else float("nan")


def _set_distance_scale(path: Path, scale: float) -> None:
    import torch

    stored = torch.load(path, map_location="cpu", weights_only=True)
    stored["faceorganizer"]["distance_scale"] = round(scale, 6)
    stored["faceorganizer"]["distance_scale_from"] = "held-out people"
    with written_atomically(path) as handle:
        torch.save(stored, handle)


def split_people(faces: FaceSet, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train mask, held-out mask) over faces; whole people go one way or the other."""
    people = faces.trainable_people()
    if len(people) < 4:
        raise TrainingError(f"personalising needs at least 4 confirmed people with 2 or more faces "
                            f"each (2 to learn from, 2 to check on); this library has {len(people)}. "
                            "Name more people, or confirm more of their faces.")
    count = min(len(people) - 2, max(2, int(round(share * len(people)))))
    held = np.random.default_rng(seed).choice(people, size=count, replace=False)
    held_mask = np.isin(faces.labels, held)
    return np.isin(faces.labels, people) & ~held_mask, held_mask


@dataclass
class PersonalizeResult:
    weights: Path
    accepted: bool
    before: HeldOutScores
    after: HeldOutScores
    trained_people: int
    held_out_people: int
    training: TrainResult
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"weights": str(self.weights), "accepted": self.accepted, "reasons": self.reasons,
                "trained_people": self.trained_people, "held_out_people": self.held_out_people,
                "before": {**asdict(self.before), "lookalike_ratio": self.before.lookalike_ratio},
                "after": {**asdict(self.after), "lookalike_ratio": self.after.lookalike_ratio},
                "training": self.training.as_dict()}


def default_out(library_path: Path | None, name: str = "library") -> Path:
    """Where personal weights go: beside a library file, else (a library on a server) in the
    user data folder, named after the library."""
    from faceorganizer.paths import data_dir

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if library_path is None:
        return data_dir() / "weights" / f"{name}-personal-{stamp}.pt"
    return library_path.parent / "weights" / f"{library_path.stem}-personal-{stamp}.pt"


def personalize(faces: FaceSet, base: ResolvedWeights, out: Path, config: TrainConfig,
                settings: PeopleSettings, *, device: str = "cpu", share: float = 0.25,
                tolerance: float = TOLERANCE, cache_dir: Path | None = None,
                report: Report | None = None,
                embedder: Callable[[ResolvedWeights], FacenetEmbedder] | None = None) -> PersonalizeResult:
    """Fine-tune ``base`` on ``faces`` minus a held-out share of people and measure both.
    ``settings`` are the library's, in the built-in weights' distances (``load_settings``)."""
    faces = faces.only_trainable()
    train_mask, held_mask = split_people(faces, share, config.seed)
    training_set, held = faces.subset(train_mask), faces.subset(held_mask)
    result = train(training_set, base, out, TrainConfig(**{**asdict(config), "keep": "last"}),
                   device=device, cache_dir=cache_dir, report=report,
                   extra_meta={"personalized": "held-out check on "
                                               f"{len(held.people)} people"})
    make = embedder or (lambda w: FacenetEmbedder(w, device))
    old_vectors = make(base).embed(held.crops)
    settings = settings.in_space(base.space)  # read in the base weights' distances
    before = held_out_scores(old_vectors, held.labels, settings)
    tuned = resolve(out)
    new_vectors = make(tuned).embed(held.crops)
    # ``settings`` are in the base weights' distances and the new weights spread them a
    # little. The training faces overstate how much for people not trained on, so the
    # scale is measured again on the held-out people and written into the weights.
    rescale = mean_different(new_vectors, held.labels) / mean_different(old_vectors, held.labels)
    _set_distance_scale(out, distance_scale(base) * rescale)
    after = held_out_scores(new_vectors, held.labels, settings.scaled(rescale))
    reasons = []
    if all(record.active == 0 for record in result.history if record.loss is not None):
        reasons.append("nothing to learn: every triplet of the confirmed people already meets the "
                       "margin, so the weights did not change (confirm more faces, or harder ones)")
    if after.bcubed_f < before.bcubed_f - tolerance:
        reasons.append(f"clustering of unseen people got worse: BCubed F {100 * before.bcubed_f:.1f} -> "
                       f"{100 * after.bcubed_f:.1f}")
    if after.pair_accuracy < before.pair_accuracy - tolerance:
        reasons.append(f"verification of unseen people got worse: {100 * before.pair_accuracy:.2f}% -> "
                       f"{100 * after.pair_accuracy:.2f}%")
    return PersonalizeResult(weights=out, accepted=not reasons, before=before, after=after,
                             trained_people=len(training_set.people), held_out_people=len(held.people),
                             training=result, reasons=reasons)
