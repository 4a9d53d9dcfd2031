"""From an answer to the next question, on a library of 50,000 faces.

The Review page answers a question with a decision (merge or apart; move or reject), then
brings its :class:`~faceorganizer.people.questions.QuestionBoard` up to date
(``refresh``: reads who holds each face, recomputes what changed) and asks it for the top
question. This measures that loop as a user drives it, alternating yes and no on the top
question, on a synthetic library built like ``cluster_scale.py``'s (family with thousands
of faces, friends with tens, strangers once or twice; realistic distances) plus people
photographed in pieces that do not group, grouped with ``recluster`` and with the five
largest people named (so there are suggestions too). Also times the board's first build
(reading every embedding), ``count()`` (the People page's link) and what the page reads to
show a question (the two people and their faces).

    .venv/bin/python benchmarks/question_latency.py [--faces 50000] [--answers 100] [--profile]

Target: under 100 ms from the answer to the next question (median and 95th percentile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_scale import DIM
from cluster_scale import library as synthetic

from faceorganizer.people import operations as ops
from faceorganizer.people.questions import Question, QuestionBoard
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library, read
from faceorganizer.store.records import bump_faces_revision
from faceorganizer.store.schema import Face, Photo

T = TypeVar("T")
TARGET_MS = 100.0
PIECES = 60  # people photographed in 3 pieces each, 0.75 apart (they do not group)


def pieces(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` people in three pieces each (12, 6 and 3 faces): 21 faces a person."""
    out = []
    for _ in range(count):
        base = rng.normal(size=DIM)
        base /= np.linalg.norm(base)
        for size in (12, 6, 3):
            other = rng.normal(size=DIM)
            other -= (other @ base) * base
            other /= np.linalg.norm(other)
            cos = 1.0 - 0.75 / 2.0
            centre = base if size == 12 else cos * base + np.sqrt(1 - cos * cos) * other
            faces = centre + rng.normal(scale=0.02, size=(size, DIM))
            out.append(faces / np.linalg.norm(faces, axis=1, keepdims=True))
    return np.concatenate(out).astype(np.float32)


def build(path: Path, faces: int) -> Library:
    rng = np.random.default_rng(3)
    extra = pieces(PIECES, rng)
    vectors, _ = synthetic(faces - len(extra))
    vectors = np.concatenate([vectors, extra])
    library = Library(path)
    with library.session() as session:
        session.add_all(Photo(id=i + 1, rel=f"/photos/{i:06d}.jpg", size=1, mtime_ns=1, status="ok")
                        for i in range(len(vectors)))
        session.flush()
        session.add_all(Face(photo_id=i + 1, x1=0.0, y1=0.0, x2=200.0, y2=200.0, landmarks=[0.0] * 10,
                             probability=0.999, embedding=v, embedding_model="synthetic")
                        for i, v in enumerate(vectors))
        bump_faces_revision(session)
    first = recluster(library, PeopleSettings())
    with library.reader() as session:
        largest = sorted(read.people(session), key=lambda p: -p.faces)[:5]
    for i, person in enumerate(largest):
        ops.rename(library, person.id, f"Person {i}")
    again = recluster(library, PeopleSettings())
    print(f"library: {len(vectors)} faces; grouped into {first.people} people, {first.unsorted} "
          f"unsorted; regrouped around 5 names: {again.suggestions} suggestions")
    return library


def answer(library: Library, question: Question, yes: bool) -> None:
    """What the Review page does for Y or N."""
    if question.kind == "merge":
        assert question.person is not None
        (ops.merge if yes else ops.apart).undoable(library, question.person, question.into)
    elif yes:
        assert question.face is not None
        ops.move.undoable(library, [question.face], question.into)
    else:
        assert question.face is not None
        with library.reader() as session:
            face = read.face(session, question.face)
        assert face is not None
        ops.reject.undoable(library, [question.face],
                            None if face.person_id is not None else question.into)


def shown(library: Library, question: Question) -> None:
    """What the Review page reads to show a question."""
    with library.reader() as session:
        read.person(session, question.into)
        read.person_faces(session, question.into)
        if question.person is not None:
            read.person(session, question.person)
            read.person_faces(session, question.person)
        if question.face is not None:
            read.face(session, question.face)


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"{label:34} median {statistics.median(times):7.1f}  p95 {p95:7.1f}  "
            f"max {max(times):7.1f}  (ms, {len(times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=50_000)
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="profile refresh and questions")
    parser.add_argument("--library", type=Path, metavar="PATH",
                        help="build the library there and keep it, or use the one there (its "
                             "answers stay: a library used again has fewer questions)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = args.library or Path(tmp) / "library.sqlite"
        if path.exists():
            library = Library(path)
        else:
            library = build(path, args.faces)
            print(f"built in {time.perf_counter() - started:.0f} s")
        builds = []
        for _ in range(3):
            ms, board = timed(lambda: QuestionBoard(library))
            builds.append(ms)
        ms, count = timed(board.count)
        kinds = {k: sum(1 for q in board.questions() if q.kind == k) for k in ("merge", "face")}
        print(f"{count} open questions ({kinds['merge']} merge, {kinds['face']} face); "
              f"count() {ms:.1f} ms")
        rows: dict[str, list[float]] = {}
        profile = cProfile.Profile() if args.profile else None
        top = board.questions(limit=1)
        for i in range(args.answers):
            if not top:
                print(f"no question left after {i} answers")
                break
            question = top[0]
            yes = i % 2 == 0
            decision, _ = timed(partial(answer, library, question, yes))
            if profile is not None:
                profile.enable()
            refresh, _ = timed(board.refresh)
            ask, found = timed(lambda: board.questions(limit=1))
            if profile is not None:
                profile.disable()
            top = found
            show = timed(partial(shown, library, top[0]))[0] if top else 0.0
            for label, value in (("decision", decision), ("refresh()", refresh),
                                 ("questions(limit=1)", ask), ("page reads (show it)", show),
                                 ("answer -> next question", decision + refresh + ask),
                                 ("  ... and shown", decision + refresh + ask + show)):
                rows.setdefault(label, []).append(value)
            rows.setdefault("  " + question.kind + (" yes" if yes else " no"), []).append(
                decision + refresh + ask)
        library.close()
    print(summary("first build (QuestionBoard(...))", builds))
    for label, times in rows.items():
        print(summary(label, times))
    total = rows["answer -> next question"]
    p95 = sorted(total)[int(round(0.95 * (len(total) - 1)))]
    verdict = "met" if p95 < TARGET_MS else "NOT met"
    print(f"target: answer -> next question < {TARGET_MS:.0f} ms: {verdict} "
          f"(median {statistics.median(total):.1f}, p95 {p95:.1f})")
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
