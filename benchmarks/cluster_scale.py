"""Clustering 50,000 faces: time and peak memory on realistic synthetic embeddings.

A library is made of identities drawn like a real one: a few people with
thousands of faces (family), a few hundred with tens (friends), and thousands of
strangers seen once or twice. Each identity has a direction in the 512-d space
and each face is that direction plus Gaussian noise, renormalised; the noise is
set so that two faces of one person are on average 0.55 apart (squared L2), as
they are in LFW with these weights (0.58) and in the album (0.50), and the
directions are correlated so that different people are mostly 1.6 to 2.4
apart, as real ones are. Prints seconds, peak memory and the BCubed scores against the
truth of the synthetic library.

    .venv/bin/python benchmarks/cluster_scale.py [--faces 50000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from faceorganizer.evaluation.metrics import score
from faceorganizer.people.clustering import ClusterParams, cluster

DIM = 512


def identity_sizes(faces: int, rng: np.random.Generator) -> list[int]:
    scale = faces / 50_000
    sizes = [max(2, int(s * scale)) for s in rng.integers(500, 3000, size=12)]  # family
    sizes += [int(s) for s in rng.integers(10, 120, size=max(1, int(300 * scale)))]  # friends
    while sum(sizes) < faces:  # strangers, once or twice
        sizes.append(int(rng.choice([1, 1, 1, 2, 3])))
    sizes[-1] -= sum(sizes) - faces
    return [s for s in sizes if s > 0]


def library(faces: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = identity_sizes(faces, rng)
    # Correlated directions (a common offset and 8 shared traits), so that different
    # people are 1.0 to 2.4 apart, 2.0 on average, 1.6 at the 5th percentile, like real ones.
    common = rng.normal(size=DIM)
    common /= np.linalg.norm(common)
    traits = rng.normal(size=(8, DIM))
    traits /= np.linalg.norm(traits, axis=1, keepdims=True)
    directions = (rng.normal(size=(len(sizes), DIM)) / np.sqrt(DIM) + 0.15 * common
                  + rng.normal(scale=0.25, size=(len(sizes), 8)) @ traits)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    noise = rng.normal(scale=0.0272, size=(faces, DIM))  # -> mean same-person distance 0.55
    vectors = directions[truth] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=50_000)
    parser.add_argument("--library", action="store_true",
                        help="also time a whole re-clustering of a library holding these faces "
                             "(reading them, suggestions for 5 named people, writing people back)")
    args = parser.parse_args()
    vectors, truth = library(args.faces)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, len(truth), size=(2, 200_000))
    d = np.sum((vectors[a] - vectors[b]) ** 2, axis=1)
    same = truth[a] == truth[b]
    print(f"{args.faces} faces, {truth.max() + 1} identities; same person {d[same].mean():.2f} apart, "
          f"different people {np.percentile(d[~same], 5):.2f} (5th percentile) to "
          f"{np.percentile(d[~same], 95):.2f} (95th)")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    labels = cluster(vectors, ClusterParams())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = score(labels.tolist(), truth.tolist())
    print(f"clustered in {seconds:.1f} s (target 60 s); process peak memory {peak:.0f} MB "
          f"(target 4096 MB; {before:.0f} MB before clustering)")
    print(f"{scores.clusters} groups for {scores.classes} identities; BCubed precision "
          f"{scores.bcubed_precision:.4f}, recall {scores.bcubed_recall:.4f}, F {scores.bcubed_f:.4f}")
    if args.library:
        library_run(vectors, truth)


def library_run(vectors: np.ndarray, truth: np.ndarray) -> None:
    import tempfile
    from pathlib import Path

    from faceorganizer.people import operations
    from faceorganizer.people.recluster import recluster
    from faceorganizer.people.settings import PeopleSettings
    from faceorganizer.store import Library
    from faceorganizer.store.records import bump_faces_revision
    from faceorganizer.store.schema import Face, Photo

    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "big.sqlite") as library:
        started = time.perf_counter()
        with library.session() as session:
            session.add_all(Photo(id=i + 1, rel=f"/photos/{i:06d}.jpg", size=1, mtime_ns=1, status="ok")
                            for i in range(len(vectors)))
            session.flush()
            session.add_all(Face(photo_id=i + 1, x1=0.0, y1=0.0, x2=200.0, y2=200.0,
                                 landmarks=[0.0] * 10, probability=0.999, embedding=v,
                                 embedding_model="synthetic") for i, v in enumerate(vectors))
            bump_faces_revision(session)
        print(f"library of {len(vectors)} faces written in {time.perf_counter() - started:.1f} s")
        first = recluster(library, PeopleSettings())
        print(f"first grouping: {first.people} people, {first.unsorted} unsorted, "
              f"{first.seconds:.1f} s")
        # Name the five largest people, then add nothing and regroup: suggestions, anchors.
        from faceorganizer.store.read import people_and_faces as list_people

        with library.reader() as session:
            largest = list_people(session)[:5]
        for i, person in enumerate(largest):
            operations.rename(library, person.id, f"Person {i}")
        again = recluster(library, PeopleSettings())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"regrouping around 5 named people: {again.people} people, {again.suggestions} "
              f"suggestions, {again.seconds:.1f} s; process peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
