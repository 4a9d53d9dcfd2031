"""Search by face over 100,000 faces: milliseconds per query on the CPU.

Builds a :class:`FaceIndex` of 100,000 random unit embeddings spread over 30,000
photos (as a large library holds) and times queries with a threshold and top-k,
as ``faceorganizer search`` and the desktop app run them.

    .venv/bin/python benchmarks/search_speed.py [--faces 100000] [--queries 200]

``--postgresql``: the same on a library on a PostgreSQL server, with pgvector (the search runs
in the database, :class:`~faceorganizer.people.search.ServerFaceIndex`: by an exact scan, as by
default, and by the HNSW index, ``approximate=True``) and without (a database without the
extension, where every embedding is read into memory first). The faces are realistic
synthetic embeddings (``cluster_scale.py``'s: family with thousands of faces, friends with
tens, strangers once or twice) over 30,000 photos. Prints the time to copy the vectors and
build the HNSW index, the time to load each index, query latencies (median, 95th percentile)
as the command line asks (top 50 under the verify threshold), as the window does (top 1000
under 1.6) and with no cut-off, and, query by query, how many answers were identical to the
in-memory ones. Run from the repository root; it starts a throwaway server
(``tests/postgres.py``), or fills the empty library database given with ``--library`` (then
"without" reads that same library into memory)::

    .venv/bin/python benchmarks/search_speed.py --postgresql [--faces 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.postgres

from faceorganizer.people.search import FaceIndex, Hit
from faceorganizer.space import Embeddings, EmbeddingSpace

PHOTOS_PER_FACE = 0.3  # 100,000 faces over 30,000 photos
# (top, threshold): the command line's default, the window's, and a ranking with no cut-off
ASKS = {"cli top 50 < 1.13": (50, 1.13), "window top 1000 < 1.6": (1000, 1.6),
        "top 50, no cut-off": (50, None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgresql", action="store_true",
                        help="on a PostgreSQL server, with and without pgvector")
    parser.add_argument("--library", metavar="URL",
                        help="with --postgresql: an empty library database to fill, instead of a "
                             "throwaway server")
    args = parser.parse_args()
    if args.postgresql:
        server_main(args.faces, args.queries, args.library)
        return
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


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    return (f"median {statistics.median(times):7.1f} ms, 95th percentile "
            f"{times[min(len(times) - 1, int(len(times) * 0.95))]:7.1f} ms")


def fill(library, vectors: np.ndarray, photos: int, rng: np.random.Generator) -> None:
    """Photos and faces in bulk (Core inserts of 5,000 rows)."""
    from sqlalchemy import insert

    from faceorganizer.store.records import WeightsRecord, put_weights_record
    from faceorganizer.store.schema import Face, Photo

    photo_of = rng.integers(0, photos, len(vectors))
    with library.session() as session:
        ids = session.execute(insert(Photo).returning(Photo.id, sort_by_parameter_order=True), [
            {"rel": f"/photos/{i:06d}.jpg", "size": 1, "mtime_ns": 1, "status": "ok"}
            for i in range(photos)]).scalars().all()
        put_weights_record(session, WeightsRecord("/synthetic.pt", EmbeddingSpace("synthetic")))
    for start in range(0, len(vectors), 5000):
        with library.session() as session:
            session.execute(insert(Face), [
                {"photo_id": ids[photo_of[i]], "x1": 0.0, "y1": 0.0, "x2": 200.0, "y2": 200.0,
                 "landmarks": [0.0] * 10, "probability": 0.999, "embedding": vectors[i],
                 "embedding_model": "synthetic"} for i in range(start, min(len(vectors), start + 5000))])


def timed(load: Callable[[], FaceIndex]) -> tuple[FaceIndex, float]:
    started = time.perf_counter()
    index = load()
    return index, time.perf_counter() - started


def same(got: list[Hit], want: list[Hit]) -> bool:
    return ([(h.photo_id, h.face) for h in got] == [(h.photo_id, h.face) for h in want]
            and all(abs(a.distance - b.distance) <= 1e-5 for a, b in zip(got, want, strict=True)))


def server_main(faces: int, queries: int, url: str | None) -> None:
    from cluster_scale import library as synthetic

    from faceorganizer.people.search import ServerFaceIndex
    from faceorganizer.store import Library

    server = None
    if url is None:
        from tests import postgres

        started = postgres.start()
        if isinstance(started, str):
            sys.exit(f"No PostgreSQL server: {started}")
        server = started
        if not server.vector:
            sys.exit("The server has no pgvector.")
        # A user who may not install pgvector owns the database without it.
        server.psql("CREATE ROLE bench LOGIN")
        server.psql("CREATE DATABASE plain OWNER bench")
        plain_url = server.url("plain").replace("postgres@", "bench@")
    else:
        plain_url = url
    print(f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    vectors, _ = synthetic(faces)
    rng = np.random.default_rng(0)
    photos = max(1, int(faces * PHOTOS_PER_FACE))
    try:
        started = time.perf_counter()
        with Library(plain_url) as library:
            fill(library, vectors, photos, rng)
        print(f"{faces} faces over {photos} photos written in {time.perf_counter() - started:.0f} s")
        if server is not None:  # the same library, in a database with pgvector
            server.psql("CREATE DATABASE vectors TEMPLATE plain")
            server.psql("CREATE EXTENSION vector", "vectors")
        vector_url = server.url("vectors") if server is not None else url
        assert vector_url is not None
        with Library(vector_url) as with_pg, Library(plain_url) as without:
            first, seconds = timed(lambda: FaceIndex.load(with_pg, in_database=True))
            assert isinstance(first, ServerFaceIndex)
            report = first.report
            print(f"pgvector {first.extension.version}: first load {seconds:.1f} s: {report.added} "
                  "vectors copied")
            pg, pg_load = timed(lambda: FaceIndex.load(with_pg))
            hnsw, hnsw_load = timed(lambda: FaceIndex.load(with_pg, approximate=True))
            assert isinstance(hnsw, ServerFaceIndex)
            print(f"first approximate load {hnsw_load:.1f} s: the HNSW index built in "
                  f"{hnsw.report.index_seconds or 0:.1f} s (only an approximate search waits for it)")
            # (a database without pgvector: the default load; given a library: read into memory)
            memory, memory_load = timed(
                lambda: FaceIndex.load(without, in_database=False if url is not None else None))
            assert isinstance(pg, ServerFaceIndex) and type(memory) is FaceIndex
            print(f"load, library in step: with pgvector {pg_load * 1000:.0f} ms; without, every "
                  f"embedding read into memory, {memory_load:.1f} s")
            if memory.note:
                print(f"  (without: {memory.note})")
            ids = memory.face_ids[rng.choice(len(memory), size=queries, replace=False)]
            indexes = {"pgvector, exact scan (default)": pg, "pgvector, HNSW (approximate=True)": hnsw,
                       "in memory": memory}
            for name, (top, threshold) in ASKS.items():
                times: dict[str, list[float]] = {label: [] for label in indexes}
                identical = dict.fromkeys(indexes, 0)
                hits = 0
                for face in ids:
                    query = memory.embedding_of(int(face))
                    answers = {}
                    for label, index in indexes.items():
                        started = time.perf_counter()
                        answers[label] = index.search(query, top=top, threshold=threshold)
                        times[label].append((time.perf_counter() - started) * 1000)
                    for label in indexes:
                        identical[label] += same(answers[label], answers["in memory"])
                    hits += len(answers["in memory"])
                print(f"{name}: {hits / len(ids):.0f} photos a query on average")
                for label in indexes:
                    after = f" (+ {memory_load:.1f} s to load)" if indexes[label] is memory else ""
                    print(f"  {label:34} {percentiles(times[label])}{after}; "
                          f"{identical[label]}/{len(ids)} answers identical to the in-memory ones")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
