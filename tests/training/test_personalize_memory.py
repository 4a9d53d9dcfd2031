"""The held-out scores and distance scale of personalising: exact, and in small memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from faceorganizer.evaluation.metrics import score
from faceorganizer.people.clustering import cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.training import personalize
from faceorganizer.training.personalize import LOOKALIKE_SHARE, HeldOutScores, held_out_scores, mean_different


def faces(people: list[int], seed: int = 0, spread: float = 0.35,
          dim: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Unit float32 vectors around one random centre per person, ``people[i]`` faces of person i."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(people)), people)
    centres = rng.normal(size=(len(people), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = centres[labels] + spread * rng.normal(size=(len(labels), dim)) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def reference_pairs(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair i < j one by one: (squared distances, same person)."""
    vectors = embeddings.astype(np.float64)
    distances, same = [], []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            distances.append(float(np.sum((vectors[i] - vectors[j]) ** 2)))
            same.append(bool(labels[i] == labels[j]))
    return np.array(distances), np.array(same, dtype=bool)


def reference_scores(embeddings: np.ndarray, labels: np.ndarray, settings: PeopleSettings) -> HeldOutScores:
    clusters = score(cluster(embeddings, settings.cluster_params).tolist(), labels.tolist())
    distances, same = reference_pairs(embeddings, labels)
    threshold = settings.verify_threshold
    different = np.sort(distances[~same])
    closest = different[:max(1, int(round(LOOKALIKE_SHARE * len(different))))]
    return HeldOutScores(
        bcubed_f=clusters.bcubed_f, bcubed_precision=clusters.bcubed_precision,
        bcubed_recall=clusters.bcubed_recall,
        pair_accuracy=float(np.mean((distances < threshold) == same)),
        false_matches=int(np.sum(distances[~same] < threshold)),
        missed_matches=int(np.sum(distances[same] >= threshold)),
        lookalike_distance=float(closest.mean()) if len(closest) else float("nan"),
        same_distance=float(distances[same].mean()) if same.any() else float("nan"))


def settings_between_pairs(embeddings: np.ndarray, labels: np.ndarray) -> PeopleSettings:
    """Default settings with the verify threshold in the middle of the widest gap between the
    pair distances near 1.13, so that rounding cannot move a pair across it."""
    distances = np.sort(reference_pairs(embeddings, labels)[0])
    near = distances[(distances > 0.5) & (distances < 2.0)]
    if len(near) < 2:
        return PeopleSettings()
    gap = int(np.argmax(np.diff(near)))
    return PeopleSettings(verify_threshold=float(near[gap] + near[gap + 1]) / 2)


def assert_same_scores(got: HeldOutScores, want: HeldOutScores) -> None:
    for name, value in vars(want).items():
        if isinstance(value, int):
            assert getattr(got, name) == value, name
        else:
            assert getattr(got, name) == pytest.approx(value, rel=1e-6, abs=1e-9, nan_ok=True), name


@pytest.mark.parametrize("people", [
    [5, 3, 8, 2, 1, 6],   # several people, one of them seen once
    [2, 2],               # the fewest personalising holds out
    [4, 9],               # two people, unbalanced
    [1, 1, 1, 1, 1],      # one face per person: no same-person pair
    [7],                  # everyone the same person: no different-person pair
    [1, 1],               # a single pair
])
@pytest.mark.parametrize("block", [1, 7, personalize.BLOCK_PAIRS])
def test_scores_equal_the_pair_by_pair_definition(people: list[int], block: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(personalize, "BLOCK_PAIRS", block)  # one row per block, a few rows, all at once
    embeddings, labels = faces(people, seed=sum(people))
    settings = settings_between_pairs(embeddings, labels)
    assert_same_scores(held_out_scores(embeddings, labels, settings),
                       reference_scores(embeddings, labels, settings))
    distances, same = reference_pairs(embeddings, labels)
    if (~same).any():
        assert mean_different(embeddings, labels) == pytest.approx(distances[~same].mean(), rel=1e-6)
    else:
        with pytest.raises(ValueError, match="at least two people"):
            mean_different(embeddings, labels)


def test_scores_at_a_threshold_crossing_many_pairs_and_with_labels_in_any_order() -> None:
    embeddings, labels = faces([6, 4, 9, 3, 5], seed=4, spread=0.9, dim=16)
    order = np.random.default_rng(1).permutation(len(labels))
    embeddings, labels = embeddings[order], np.array([f"person {i}" for i in labels[order]])
    settings = settings_between_pairs(embeddings, labels)
    assert_same_scores(held_out_scores(embeddings, labels, settings),
                       reference_scores(embeddings, labels, settings))


def test_ties_and_duplicate_faces_count_once_each() -> None:
    # Duplicates: distance zero (not a tiny negative). Many equal look-alike distances:
    # the closest 5% is any of them, with the same mean.
    base = np.eye(4, dtype=np.float32)
    embeddings = np.concatenate([base, base, base])
    labels = np.array([0, 1, 2, 3] * 3)
    got = held_out_scores(embeddings, labels, PeopleSettings())
    assert got.same_distance == pytest.approx(0.0, abs=1e-12)
    assert got.lookalike_distance == pytest.approx(2.0)
    assert (got.false_matches, got.missed_matches, got.pair_accuracy) == (0, 0, 1.0)
    assert mean_different(embeddings, labels) == pytest.approx(2.0)


def test_too_few_faces_are_refused() -> None:
    embeddings, labels = faces([1])
    with pytest.raises(ValueError, match="at least two faces"):
        held_out_scores(embeddings, labels, PeopleSettings())
    with pytest.raises(ValueError, match="same faces"):
        held_out_scores(embeddings, np.array([0, 1]), PeopleSettings())


def peak_bytes(run: object) -> int:
    assert callable(run)
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_scores_of_600_faces_never_hold_every_pair_difference() -> None:
    # Broadcasting every pair's difference takes 600 x 600 x 512 float32 (740 MB) here;
    # the blocked dot products need a few MB, whatever the number of faces.
    embeddings, labels = faces([12] * 50, seed=2)
    limit = 64 * 2 ** 20
    assert peak_bytes(lambda: held_out_scores(embeddings, labels, PeopleSettings())) < limit
    assert peak_bytes(lambda: mean_different(embeddings, labels)) < limit
