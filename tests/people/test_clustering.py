"""The clustering algorithm: exact where it claims to be, precise, and scalable in memory."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering

from faceorganizer.evaluation.metrics import score
from faceorganizer.people import clustering
from faceorganizer.people.clustering import ClusterParams, cluster, links, merge_groups
from tests.fakes import faces_of, identities, unit


def people(counts: list[int], seed: int = 0, spread: float = 0.5) -> tuple[np.ndarray, list[int]]:
    directions = identities(len(counts), seed)
    vectors = np.concatenate([faces_of(d, c, spread, seed + i)
                              for i, (d, c) in enumerate(zip(directions, counts, strict=True))])
    return vectors, [i for i, c in enumerate(counts) for _ in range(c)]


def sklearn_average(vectors: np.ndarray, threshold: float) -> np.ndarray:
    return AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                   distance_threshold=threshold / 2).fit_predict(vectors)


def test_separate_people_are_found_exactly() -> None:
    vectors, truth = people([30, 12, 5, 2, 1, 1])
    labels = cluster(vectors)
    s = score(labels.tolist(), truth)
    assert s.bcubed_f == 1.0 and s.clusters == 6


def test_trivial_inputs() -> None:
    assert cluster(np.zeros((0, 512), np.float32)).tolist() == []
    assert cluster(identities(1)).tolist() == [0]


def test_merge_groups_is_exact_average_linkage() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng.normal(size=(300, 512)) + 3 * rng.normal(size=(6, 512))[rng.integers(0, 6, 300)])
    for threshold in (1.0, 1.6, 1.9):
        ours = merge_groups(vectors, np.ones(len(vectors)), threshold)
        theirs = sklearn_average(vectors, threshold)
        assert score(ours.tolist(), theirs.tolist()).bcubed_f == 1.0


def test_step_one_is_scikit_learn_average_linkage() -> None:
    vectors, _ = people([40, 30, 20, 10, 5], seed=4, spread=0.9)
    params = ClusterParams(threshold=0.95, merge_threshold=0, attach_threshold=0)
    ours = cluster(vectors, params)
    assert score(ours.tolist(), sklearn_average(vectors, 0.95).tolist()).bcubed_f == 1.0


def test_links_find_every_close_pair_and_keep_the_nearest() -> None:
    vectors, _ = people([50, 50], seed=5)
    found = links(vectors, 0.8, k=1000, block=17)
    distances = np.sum((vectors[:, None] - vectors[None]) ** 2, axis=2)
    expected = {(i, j) for i in range(100) for j in range(i + 1, 100) if distances[i, j] < 0.8}
    assert set(zip(found.first.tolist(), found.second.tolist(), strict=True)) == expected
    np.testing.assert_allclose(found.distance, distances[found.first, found.second], atol=1e-4)
    pruned = links(vectors, 0.8, k=3, block=17)
    assert len(pruned.first) < len(found.first)
    kept = set(zip(pruned.first.tolist(), pruned.second.tolist(), strict=True))
    for face in range(100):  # each face keeps at least its 3 nearest close partners
        close = [j for j in np.argsort(distances[face]) if j != face and distances[face, j] < 0.8]
        assert all((min(face, j), max(face, j)) in kept for j in close[:3])


def test_a_person_seen_at_two_ages_is_one_person_when_clearly_apart_from_others() -> None:
    direction = identities(1, 7)[0]
    young = faces_of(direction, 2, spread=0.2, seed=1)
    shifted = unit(direction + 1.1 * identities(1, 8)[0])  # the same face, years later
    old = faces_of(shifted, 4, spread=0.4, seed=2)
    strangers = identities(20, 9)
    vectors = np.concatenate([young, old, strangers])
    gap = np.mean(np.sum((young[:, None] - old[None]) ** 2, axis=2))
    assert 0.75 < gap < 1.0  # too far for step one alone
    strict = cluster(vectors, ClusterParams(merge_threshold=0, attach_threshold=0))
    assert len(set(strict[:6].tolist())) == 2
    labels = cluster(vectors)
    assert len(set(labels[:6].tolist())) == 1
    assert len(set(labels.tolist())) == 21


def test_look_alikes_in_a_crowd_are_not_merged() -> None:
    """Two people 0.85 apart stay two when others are about as close (no isolation)."""
    base = identities(1, 11)[0]
    crowd = unit(base + 0.8 * identities(6, 12))  # six people around the same region
    vectors = np.concatenate([faces_of(c, 4, spread=0.3, seed=i) for i, c in enumerate(crowd)])
    truth = [i for i in range(6) for _ in range(4)]
    means = np.stack([vectors[i * 4:(i + 1) * 4].mean(axis=0) for i in range(6)])
    between = (2 - 2 * means @ means.T)[np.triu_indices(6, 1)]  # average-linkage distances
    assert between.min() < 1.0 and between.max() < 1.1  # close enough to merge, if isolated
    s = score(cluster(vectors).tolist(), truth)
    assert s.bcubed_precision == 1.0


def test_big_components_are_split_and_merged_back_like_full_linkage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, truth = people([120, 80, 60, 3], seed=13, spread=0.55)
    full = cluster(vectors)
    monkeypatch.setattr(clustering, "FULL_PAIRWISE_LIMIT", 50)
    small = cluster(vectors)
    assert score(small.tolist(), full.tolist()).bcubed_f == 1.0
    assert score(small.tolist(), truth).bcubed_f == 1.0


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Average linkage's distance: the mean squared distance between the faces of a and b."""
    return float(np.mean(np.sum((a[:, None].astype(np.float64) - b[None]) ** 2, axis=2)))


def test_a_large_group_takes_the_fragments_that_are_clearly_closest_to_it() -> None:
    """One person in many photos: a core, and a few photos each in other conditions that
    average linkage leaves apart. They are nearer the core than anything else: one person."""
    face = identities(1, 21)[0]
    core = faces_of(face, 40, spread=0.6, seed=1)
    conditions = identities(3, 22)
    fragments = [faces_of(unit(face + 0.85 * c), 3, spread=0.4, seed=5 + i)
                 for i, c in enumerate(conditions)]
    others = [faces_of(d, 12, spread=0.5, seed=30 + i) for i, d in enumerate(identities(3, 23))]
    vectors = np.concatenate([core, *fragments, *others, identities(10, 24)])
    truth = [0] * 49 + [i for i in (1, 2, 3) for _ in range(12)] + list(range(10, 20))
    gaps = [mean_distance(core, f) for f in fragments]
    assert min(gaps) > ClusterParams().threshold  # too far for step one
    assert mean_distance(fragments[0], fragments[1]) < 1.1  # and near each other: not isolated
    before = cluster(vectors, ClusterParams(attach_threshold=0))
    assert len(set(before[:49].tolist())) == 4  # the old result: a large group and fragments
    labels = cluster(vectors)
    assert len(set(labels[:49].tolist())) == 1
    assert score(labels.tolist(), truth).bcubed_f == 1.0


def test_two_close_but_distinct_dense_groups_stay_apart() -> None:
    """Two people with tight groups, closer to each other than to anyone else, are farther
    apart than either's own faces by more than the attach margin: two people."""
    base = identities(1, 31)[0]
    a, b, c = (unit(base + 0.95 * d) for d in identities(3, 32))
    vectors = np.concatenate([faces_of(a, 25, spread=0.35, seed=1), faces_of(b, 25, spread=0.35, seed=2),
                              faces_of(c, 25, spread=0.35, seed=3)])
    truth = [i for i in range(3) for _ in range(25)]
    ab = mean_distance(vectors[:25], vectors[25:50])
    params = ClusterParams()
    assert params.threshold < ab < params.attach_threshold
    assert ab - mean_distance(vectors[:25], vectors[:25]) * 25 / 24 > params.attach_margin
    s = score(cluster(vectors).tolist(), truth)
    assert s.bcubed_f == 1.0
    # One looser threshold, the alternative, merges them.
    assert score(cluster(vectors, ClusterParams(threshold=ab + 0.05, merge_threshold=0,
                                                attach_threshold=0)).tolist(), truth).bcubed_precision < 1


def test_a_fragment_between_two_people_joins_neither() -> None:
    """Photos about as close to two people's groups are not given to either."""
    first, second = identities(2, 41)
    middle = unit(first + second)
    vectors = np.concatenate([faces_of(first, 20, spread=0.6, seed=1),
                              faces_of(second, 20, spread=0.6, seed=2),
                              faces_of(middle, 3, spread=0.3, seed=3)])
    near = [mean_distance(vectors[40:], vectors[:20]), mean_distance(vectors[40:], vectors[20:40])]
    assert max(near) < ClusterParams().attach_threshold
    assert min(near) > ClusterParams().attach_isolation * max(near)
    labels = cluster(vectors)
    assert len(set(labels.tolist())) == 3
    assert len(set(labels[40:].tolist())) == 1


def test_attaching_scales_to_groups_larger_than_k() -> None:
    """Fragments of a person whose group is larger than ``k`` still find it."""
    face = identities(1, 51)[0]
    core = faces_of(face, 200, spread=0.6, seed=1)
    fragments = [faces_of(unit(face + 0.85 * c), 3, spread=0.4, seed=5 + i)
                 for i, c in enumerate(identities(3, 52))]
    vectors = np.concatenate([core, *fragments, identities(30, 53)])
    labels = cluster(vectors, ClusterParams(k=8))
    assert len(set(labels[:209].tolist())) == 1
    assert len(set(labels.tolist())) == 31


def test_the_people_settings_defaults_are_the_clustering_defaults() -> None:
    from faceorganizer.people.settings import DISTANCES, PeopleSettings

    assert PeopleSettings().cluster_params == ClusterParams()
    assert {"attach_threshold", "attach_margin"} <= set(DISTANCES)
    scaled = PeopleSettings().scaled(2.0).cluster_params
    assert (scaled.attach_threshold, scaled.attach_margin) == (2.4, 0.7)
    assert scaled.attach_isolation == ClusterParams().attach_isolation
