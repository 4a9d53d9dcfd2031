"""Search by face over 100,000 faces: milliseconds per query on the CPU.

Builds a :class:`FaceIndex` of 100,000 random unit embeddings spread over 30,000
photos (as a large library holds) and times queries with a threshold and top-k,
as ``faceorganizer search`` and the desktop app run them.

    .venv/bin/python benchmarks/search_speed.py [--faces 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from faceorganizer.people.search import FaceIndex
from faceorganizer.space import Embeddings, EmbeddingSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.faces, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    photos = rng.integers(0, max(1, args.faces * 3 // 10), size=args.faces)
    started = time.perf_counter()
    space = EmbeddingSpace("synthetic")
    index = FaceIndex(np.arange(args.faces), photos, vectors,
                      {int(p): f"/photos/{p}.jpg" for p in np.unique(photos)}, space)
    built = time.perf_counter() - started
    times = []
    for q in rng.integers(0, args.faces, size=args.queries):
        query = vectors[q] + rng.normal(scale=0.02, size=512).astype(np.float32)
        query /= np.linalg.norm(query)
        started = time.perf_counter()
        hits = index.search(Embeddings(query[None, :], space), top=50, threshold=1.13)
        times.append((time.perf_counter() - started) * 1000)
        assert hits and hits[0].face == q
    times.sort()
    print(f"{args.faces} faces in {len(np.unique(photos))} photos; index built in {built:.2f} s")
    print(f"query: median {statistics.median(times):.1f} ms, 95th percentile "
          f"{times[int(len(times) * 0.95)]:.1f} ms, max {times[-1]:.1f} ms (target 50 ms)")


if __name__ == "__main__":
    main()
