"""How long a decision, its undo and its redo take on a large library.

Every decision captures the library's whole decision state (people, each face's person,
state and "not a face" flag, rejections) before and after it, inside its own transaction,
so that undo is complete by construction (``people/undo.py``). This measures what that
costs: a library of ``--faces`` faces (default 50,000) in 600 people with a few hundred
rejections, then the median and worst time of naming a person, merging two, moving faces,
rejecting one, and undoing and redoing each, over ``--repeat`` rounds.

    .venv/bin/python benchmarks/decision_latency.py [--faces 50000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from faceorganizer.people import operations as ops
from faceorganizer.people.undo import Change, redo, undo
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Photo, Rejection
from faceorganizer.store.states import FaceState, PhotoStatus

PEOPLE = 600


def build(path: Path, faces: int) -> Library:
    library = Library(path)
    rng = np.random.default_rng(0)
    blob = np.zeros(512, np.float32)
    with library.session() as session:
        session.execute(insert(Person), [{"id": p + 1, "name": f"Person {p}" if p % 3 == 0 else None,
                                          "hidden": False} for p in range(PEOPLE)])
        session.execute(insert(Photo), [{"id": i + 1, "path": f"/photos/{i:06d}.jpg", "size": 1,
                                         "mtime_ns": 1, "status": PhotoStatus.OK} for i in range(faces)])
        owners = rng.integers(1, PEOPLE + 1, size=faces)
        session.execute(insert(Face), [
            {"id": i + 1, "photo_id": i + 1, "x1": 0.0, "y1": 0.0, "x2": 100.0, "y2": 100.0,
             "landmarks": [0.0] * 10, "probability": 0.99, "embedding": blob, "embedding_model": "m",
             "person_id": int(owners[i]) if i % 10 else None,
             "state": FaceState.CONFIRMED if i % 7 == 0 else FaceState.AUTO} for i in range(faces)])
        session.execute(insert(Rejection), [{"face_id": int(f), "person_id": int(p)} for f, p in
                                            {(int(rng.integers(1, faces + 1)),
                                              int(rng.integers(1, PEOPLE + 1))) for _ in range(300)}])
    return library


def timed(times: list[float], work: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = work()
    times.append((time.perf_counter() - started) * 1000)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        library = build(Path(tmp) / "library.sqlite", args.faces)
        print(f"library of {args.faces} faces in {PEOPLE} people built in "
              f"{time.perf_counter() - started:.1f} s")
        rows: dict[str, list[float]] = {}
        for round_ in range(args.repeat):
            a, b = 2 + 2 * round_, 3 + 2 * round_
            decisions = [
                ("name a person", ops.rename, (a, f"Renamed {round_}")),
                ("merge two people", ops.merge, (b, a)),
                ("move 3 faces", ops.move, ([12 + 10 * round_, 13 + 10 * round_, 14 + 10 * round_], a)),
                ("reject a face", ops.reject, ([42 + 10 * round_],)),
            ]
            for label, operation, arguments in decisions:
                _, change = timed(rows.setdefault(label, []),
                                  lambda op=operation, a=arguments: op.undoable(library, *a))
                assert isinstance(change, Change) and change
                timed(rows.setdefault(f"  undo ({label})", []), lambda c=change: undo(library, c))
                timed(rows.setdefault(f"  redo ({label})", []), lambda c=change: redo(library, c))
        library.close()
    print(f"{'':28} median    worst   (ms, {args.repeat} rounds)")
    for label, times in rows.items():
        print(f"{label:28} {statistics.median(times):6.0f}  {max(times):7.0f}")


if __name__ == "__main__":
    main()
