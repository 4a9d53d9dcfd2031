"""Agglomerative clustering of face embeddings that scales to a whole photo library.

Distances are FaceNet's squared L2 distances between unit vectors (0 to 4; photos
of one person are mostly below 1). Groups are formed by average linkage: a group
is one person while the mean distance between its members stays under the
threshold. Three steps, each favouring precision, since two people merged into one
is what users of a photo organizer hate most:

1. Average linkage with a strict threshold (0.75 by default).
2. Then two groups are merged at a looser distance (up to 1.0) only when they are
   each other's nearest group and clearly isolated: at most ``isolation`` (0.7)
   times as far from each other as from any other group. One person photographed
   ten years apart lands here; two look-alikes in a crowded library do not, since
   each has other faces about as close.
3. Then each group joins its nearest group of at least 3 faces and at least its own
   size when it clearly belongs with it: their mean distance is under
   ``attach_threshold`` (1.2), exceeds the larger group's own mean distance between
   its members by less than ``attach_margin`` (0.35), and is at most
   ``attach_isolation`` (0.9; 0.75 for a single face, whose distance varies more) times
   the distance to the next such group. Repeated with the grown groups until nothing
   moves.

Why step 3: one threshold cannot serve every library. A person in hundreds of photos
taken in poor conditions (greyscale, small, heavy JPEG) has faces spread far wider
than the calibration data's, so average linkage at a strict threshold leaves them
as one large group plus fragments, each fragment as close to the others as to the
group, which defeats step 2's isolation test; a looser threshold merges distinct
people in other libraries. A group's mean internal distance measures how spread
that person's photos are, so step 3 asks how far a fragment is from a group compared
with the group's own members: a fragment of a widely spread person is accepted at a
distance at which two tight groups (two distinct people photographed well) are
kept apart. On evaluation albums unlike the calibration data
(``benchmarks/grouping_eval.py``: greyscale, 320 px, JPEG quality 15, many strangers,
people in 100+ photos) it raised BCubed F from 0.59-0.93 to 0.94-0.995 at precision
0.983 or more; the album's 62 portraits stay exactly its 13 people; on LFW-built
libraries (20 to 100 people with 50 to 500 strangers) F rose from 0.94-0.955 to
0.95-0.97 while precision went from 0.977-0.998 to 0.963-0.989.

Full pairwise clustering needs O(n^2) memory, which 50,000 faces cannot afford,
so the faces are first split by their links: every pair closer than the loosest
threshold is found by blocked matrix products (each face keeps its ``k`` nearest),
links under the strict threshold split the faces into connected components, and
each component is clustered on its own with scikit-learn's
``AgglomerativeClustering``. No group ever spans two components, which can only
keep apart what full average linkage would have merged. A component too large
for a distance matrix is split along closer links into parts that fit; the parts'
groups are then merged by average linkage computed exactly from their means.
Steps 2 and 3 only consider groups with a link shorter than their threshold to
another group (or groups larger than ``k``, whose links may have been pruned), and
compare group means in blocks, so they need no pairwise matrix either.

For unit vectors the mean squared distance between groups A and B is
``2 - 2 * mean(A) . mean(B)``, so a group is fully described by the sum of its
vectors; :func:`merge_groups` and steps 2 and 3 rely on that. A group's mean distance
between its own n members is ``2 - 2 * (n * |mean|^2 - 1) / (n - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SciPy is imported where it is used: importing it takes a quarter of a second, which every
# command (and the start of every scan) would otherwise pay for nothing.

# Components up to this size are clustered with all their pairwise distances
# (scikit-learn keeps them in float64: 6000 faces take about 150 MB).
FULL_PAIRWISE_LIMIT = 6000
BLOCK = 2048
# Step 3: a group joins only a group of at least ``ATTACH_MIN_SIZE`` faces, and at least as
# large as itself; it is repeated (with the grown groups) at most ``ATTACH_ROUNDS`` times.
ATTACH_MIN_SIZE = 3
SINGLE_FACE_ISOLATION = 0.75  # ``attach_isolation`` for a group of one face, if stricter
ATTACH_ROUNDS = 20


@dataclass(frozen=True)
class ClusterParams:
    """``threshold``: mean squared distance within a group (step 1).
    ``merge_threshold`` and ``isolation``: step 2 (``merge_threshold`` 0 turns it off).
    ``attach_threshold``, ``attach_margin`` and ``attach_isolation``: step 3
    (``attach_threshold`` 0 turns it off).
    ``k``: links kept per face."""

    threshold: float = 0.75
    merge_threshold: float = 1.0
    isolation: float = 0.7
    attach_threshold: float = 1.2
    attach_margin: float = 0.35
    attach_isolation: float = 0.9
    k: int = 32


@dataclass(frozen=True)
class Links:
    """Pairs (``first`` < ``second``) of faces closer than a radius, with their distances.
    Each face keeps at least its ``k`` nearest such partners."""

    first: np.ndarray
    second: np.ndarray
    distance: np.ndarray


def _nearest_k(owner: np.ndarray, distance: np.ndarray, k: int, n: int) -> np.ndarray:
    """Mask of the pairs that are among the ``k`` nearest of their ``owner``.

    Owners with at most ``k`` pairs keep them all; only the others are sorted out,
    one segment at a time, so the cost stays linear in the number of pairs.
    """
    keep = np.ones(len(owner), dtype=bool)
    counts = np.bincount(owner, minlength=n)
    heavy = counts[owner] > k
    if not heavy.any():
        return keep
    index = np.flatnonzero(heavy)
    order = index[np.argsort(owner[index], kind="stable")]
    keep[order] = False
    bounds = np.flatnonzero(np.diff(owner[order])) + 1
    for segment in np.split(order, bounds):
        nearest = np.argpartition(distance[segment], k - 1)[:k]
        keep[segment[nearest]] = True
    return keep


def links(vectors: np.ndarray, radius: float, k: int = 32, block: int = BLOCK) -> Links:
    """Pairs of unit vectors closer than ``radius`` (squared L2), by exact blocked matrix
    products over the upper triangle. In each block a pair is kept if it is among the
    ``k`` nearest of either of its faces, which bounds memory when one person has
    thousands of faces and keeps every face's ``k`` nearest neighbours."""
    n = len(vectors)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    firsts, seconds, distances = [], [], []
    floor = 1.0 - radius / 2.0  # squared distance < radius  <=>  dot product > floor
    for start in range(0, n, block):
        stop = min(n, start + block)
        product = vectors[start:stop] @ vectors[start:].T
        rows, cols = np.nonzero(product > floor)
        upper = cols > rows  # both relative to ``start``: the pair's first face comes first
        rows, cols = rows[upper], cols[upper]
        dist = np.maximum(0.0, 2.0 - 2.0 * product[rows, cols]).astype(np.float32)
        del product
        keep = _nearest_k(rows, dist, k, stop - start) | _nearest_k(cols, dist, k, n - start)
        firsts.append((rows[keep] + start).astype(np.int32))
        seconds.append((cols[keep] + start).astype(np.int32))
        distances.append(dist[keep])
    if not firsts:
        empty = np.zeros(0, dtype=np.int32)
        return Links(empty, empty, np.zeros(0, dtype=np.float32))
    return Links(np.concatenate(firsts), np.concatenate(seconds), np.concatenate(distances))


def components(n: int, found: Links, below: float) -> np.ndarray:
    """Connected components of the links shorter than ``below``: a label per face."""
    close = found.distance < below
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    adjacency = coo_matrix((np.ones(int(close.sum()), dtype=np.int8),
                            (found.first[close], found.second[close])), shape=(n, n))
    return connected_components(adjacency, directed=False)[1]


def merge_groups(sums: np.ndarray, counts: np.ndarray, threshold: float) -> np.ndarray:
    """Average linkage over groups of unit vectors given by their sums and sizes.

    The nearest-neighbour-chain algorithm finds the merges of textbook average
    linkage; a group whose nearest neighbour is at least the threshold away is
    retired, since every later group is an average of groups at least that far from
    it. Returns a label per group.
    """
    m = len(sums)
    sums = np.asarray(sums, dtype=np.float64).copy()
    counts = np.asarray(counts, dtype=np.float64).copy()
    means = sums / counts[:, None]
    active = np.ones(m, dtype=bool)
    parent = np.arange(m)
    chain: list[int] = []
    while True:
        if not chain:
            remaining = np.flatnonzero(active)
            if len(remaining) == 0:
                break
            chain.append(int(remaining[0]))
        c = chain[-1]
        distance = 2.0 - 2.0 * (means @ means[c])
        distance[~active] = np.inf
        distance[c] = np.inf
        nearest = int(np.argmin(distance))
        if distance[nearest] >= threshold:
            active[c] = False  # final: nothing will come closer than the threshold
            chain.pop()
            continue
        if len(chain) >= 2 and distance[chain[-2]] <= distance[nearest]:
            other = chain[-2]
            del chain[-2:]
            sums[other] += sums[c]
            counts[other] += counts[c]
            means[other] = sums[other] / counts[other]
            active[c] = False
            parent[c] = other
        else:
            chain.append(nearest)
    return _relabel(_roots(parent))


def _roots(parent: np.ndarray) -> np.ndarray:
    """Follow each entry of a merge forest to its root."""
    parent = parent.copy()
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _relabel(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _agglomerative(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Average linkage with every pairwise distance, cut below ``threshold``: what
    scikit-learn's ``AgglomerativeClustering(linkage="average", distance_threshold=...)`` does,
    by the SciPy routine it calls itself (importing SciPy's alone takes 0.26 s instead of
    0.77 s, at the start of every grouping)."""
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    # Cosine distance is squared L2 / 2 for unit vectors; merges happen strictly below it.
    cut = np.nextafter(threshold / 2.0, -np.inf)
    tree = linkage(pdist(np.asarray(vectors, dtype=np.float64), "cosine"), method="average")
    return _relabel(fcluster(tree, t=cut, criterion="distance"))


def _parts(vectors: np.ndarray, threshold: float, limit: int) -> list[np.ndarray]:
    """Index sets of at most ``limit`` vectors: components along ever closer links."""
    if len(vectors) <= limit:
        return [np.arange(len(vectors))]
    tighter = threshold * 0.8
    if tighter < 1e-3:  # identical vectors: any split is as good as another
        return [np.arange(i, min(i + limit, len(vectors))) for i in range(0, len(vectors), limit)]
    label = components(len(vectors), links(vectors, tighter), tighter)
    out: list[np.ndarray] = []
    for members in _groups(label):
        out.extend(members[inner] for inner in _parts(vectors[members], tighter, limit))
    return out


def _groups(label: np.ndarray) -> list[np.ndarray]:
    """Member indices of each label, in label order."""
    order = np.argsort(label, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(label[order])) + 1)


def _cluster_component(vectors: np.ndarray, threshold: float) -> np.ndarray:
    if len(vectors) <= FULL_PAIRWISE_LIMIT:
        return _agglomerative(vectors, threshold)
    groups = np.empty(len(vectors), dtype=np.int64)
    offset = 0
    for part in _parts(vectors, threshold, FULL_PAIRWISE_LIMIT):
        local = _agglomerative(vectors[part], threshold)
        groups[part] = local + offset
        offset += int(local.max()) + 1
    sums = np.zeros((offset, vectors.shape[1]))
    np.add.at(sums, groups, vectors)
    return merge_groups(sums, np.bincount(groups, minlength=offset), threshold)[groups]


def _nearest_two(queries: np.ndarray, means: np.ndarray, own: np.ndarray,
                 block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query mean: its nearest group (not ``own``), that distance, the second."""
    nearest = np.empty(len(queries), dtype=np.int64)
    first = np.empty(len(queries))
    second = np.empty(len(queries))
    for start in range(0, len(queries), block):
        stop = min(len(queries), start + block)
        distance = 2.0 - 2.0 * (queries[start:stop] @ means.T)
        rows = np.arange(stop - start)
        distance[rows, own[start:stop]] = np.inf
        best = np.argmin(distance, axis=1)
        nearest[start:stop] = best
        first[start:stop] = distance[rows, best]
        distance[rows, best] = np.inf
        second[start:stop] = distance.min(axis=1) if distance.shape[1] else np.inf
    return nearest, first, second


def _merge_isolated(vectors: np.ndarray, labels: np.ndarray, found: Links,
                    params: ClusterParams) -> np.ndarray:
    """Step 2: merge mutually nearest groups that are clearly apart from all others."""
    while True:
        count = int(labels.max()) + 1
        sums = np.zeros((count, vectors.shape[1]))
        np.add.at(sums, labels, vectors)
        means = sums / np.bincount(labels, minlength=count)[:, None]
        # Only groups with a face closer than the merge threshold to another group's can
        # merge; groups larger than k may have had such links pruned, so they count too.
        a, b = labels[found.first], labels[found.second]
        linked = (a != b) & (found.distance < params.merge_threshold)
        big = np.flatnonzero(np.bincount(labels, minlength=count) > params.k)
        candidates = np.unique(np.concatenate([a[linked], b[linked], big]))
        if len(candidates) < 2:
            return labels
        nearest, first, second = _nearest_two(means[candidates], means, candidates)
        position = np.full(count, -1)
        position[candidates] = np.arange(len(candidates))
        parent = np.arange(count)
        merged = False
        for i, group in enumerate(candidates):
            other = nearest[i]
            j = position[other]
            if j < 0 or group >= other or nearest[j] != group:
                continue  # not mutual, or seen from the other side
            distance = first[i]
            if (distance < params.merge_threshold and distance <= params.isolation * second[i]
                    and distance <= params.isolation * second[j]):
                parent[other] = group
                merged = True
        if not merged:
            return labels
        labels = _relabel(parent[labels])


def _group_means(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = int(labels.max()) + 1
    sums = np.zeros((count, vectors.shape[1]))
    np.add.at(sums, labels, vectors)
    sizes = np.bincount(labels, minlength=count)
    return sums / sizes[:, None], sizes


def _nearest_larger(queries: np.ndarray, sizes: np.ndarray, own: np.ndarray, means: np.ndarray,
                    target_sizes: np.ndarray, targets: np.ndarray,
                    cells: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query group (mean, size, label): its nearest target group at least as large
    (an index into ``targets``, -1 for none), that distance and the second. Blocks of
    queries keep the distance matrix under ``cells`` entries."""
    nearest = np.full(len(queries), -1, dtype=np.int64)
    first = np.full(len(queries), np.inf)
    second = np.full(len(queries), np.inf)
    block = max(1, cells // max(1, len(targets)))
    for start in range(0, len(queries), block):
        stop = min(len(queries), start + block)
        distance = 2.0 - 2.0 * (queries[start:stop] @ means.T)
        distance[(target_sizes[None, :] < sizes[start:stop, None])
                 | (targets[None, :] == own[start:stop, None])] = np.inf
        rows = np.arange(stop - start)
        best = np.argmin(distance, axis=1)
        first[start:stop] = distance[rows, best]
        nearest[start:stop] = np.where(np.isfinite(first[start:stop]), best, -1)
        distance[rows, best] = np.inf
        second[start:stop] = distance.min(axis=1) if distance.shape[1] > 1 else np.inf
    return nearest, first, second


def _attach_fragments(vectors: np.ndarray, labels: np.ndarray, found: Links,
                      params: ClusterParams) -> np.ndarray:
    """Step 3: each group joins the nearest group at least as large that it clearly belongs with."""
    for _ in range(ATTACH_ROUNDS):
        means, sizes = _group_means(vectors, labels)
        # A group's mean distance between its own members (0 for one face).
        norms = np.einsum("ij,ij->i", means, means)
        within = np.where(sizes > 1, 2.0 - 2.0 * (sizes * norms - 1.0) / np.maximum(sizes - 1, 1), 0.0)
        targets = np.flatnonzero(sizes >= ATTACH_MIN_SIZE)
        if len(targets) == 0:
            return labels
        # A group within the attach threshold of a target on average has a face that close to
        # one of the target's; groups larger than k may have had such links pruned.
        a, b = labels[found.first], labels[found.second]
        linked = (a != b) & (found.distance < params.attach_threshold)
        candidates = np.unique(np.concatenate([a[linked], b[linked],
                                               np.flatnonzero(sizes > params.k)]))
        if len(candidates) == 0:
            return labels
        index, first, second = _nearest_larger(means[candidates], sizes[candidates], candidates,
                                               means[targets], sizes[targets], targets)
        found_one = index >= 0
        target = np.where(found_one, targets[np.maximum(index, 0)], -1)
        # One face is weak evidence (its distance varies more than a group's): it must
        # be more clearly nearer.
        isolation = np.where(sizes[candidates] == 1,
                             min(params.attach_isolation, SINGLE_FACE_ISOLATION), params.attach_isolation)
        ok = (found_one & (first < params.attach_threshold)
              & (first - within[np.maximum(target, 0)] < params.attach_margin)
              & (first <= isolation * second))
        if not ok.any():
            return labels
        moving, into = candidates[ok], target[ok]
        heading = np.full(len(sizes), -1)
        heading[moving] = into
        # A group that moves takes no faces this round (they are compared with it again in the
        # next), except that of two equal groups heading for each other one joins the other.
        keep = (heading[into] < 0) | ((heading[into] == moving) & (moving > into))
        if not keep.any():  # only a cycle of equal groups, each heading for the next
            return labels
        parent = np.arange(len(sizes))
        parent[moving[keep]] = into[keep]
        labels = _relabel(parent[labels])
    return labels


def cluster(vectors: np.ndarray, params: ClusterParams | None = None) -> np.ndarray:
    """A group label (0..c-1) per unit vector; the faces of one person share a label."""
    params = params or ClusterParams()
    n = len(vectors)
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    found = links(vectors, max(params.threshold, params.merge_threshold, params.attach_threshold),
                  params.k)
    labels = np.empty(n, dtype=np.int64)
    offset = 0
    for members in _groups(components(n, found, params.threshold)):
        local = _cluster_component(vectors[members], params.threshold)
        labels[members] = local + offset
        offset += int(local.max()) + 1
    if params.merge_threshold > params.threshold:
        labels = _merge_isolated(vectors, labels, found, params)
    if params.attach_threshold > 0:
        labels = _attach_fragments(vectors, labels, found, params)
    return labels
