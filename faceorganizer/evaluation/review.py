"""How fast the questions finish a library: a truthful user answers them, most useful first.

``evaluate review FOLDER`` scans a folder holding one folder per person into a library of its
own and groups it, as ``evaluate clusters`` does. Then a simulated user answers the library's
questions (:mod:`faceorganizer.people.questions`) the way a person who knows everyone would:

- "same person?": each side is the person most of its faces are (faces whose truth is known:
  the largest face of each photo); yes (``merge``) when both are the same, else no (``apart``);
- "is this face X?": yes (``move``) when the face's person is X's, else no (``reject``).

A question about a face or person whose truth is unknown (background faces) is skipped, as a
user who does not know that stranger would skip it; a skip is not an answer. After each answer
the largest faces are scored again (BCubed, as ``evaluate clusters``), which gives the curve.
When the budget is spent or nothing is left to ask, the library is regrouped (what the next scan
does) and scored once more: ``end`` is what the user keeps.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from faceorganizer.evaluation.clusters import folder_truth, predicted_labels
from faceorganizer.evaluation.metrics import ClusterScores, score
from faceorganizer.jobs import scan_and_group
from faceorganizer.people import operations as ops
from faceorganizer.people.questions import QuestionBoard
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings, load_settings
from faceorganizer.scan.scanner import ModelsFactory
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face


def _scores(s: ClusterScores) -> dict[str, float]:
    return {"precision": round(s.bcubed_precision, 4), "recall": round(s.bcubed_recall, 4),
            "f": round(s.bcubed_f, 4)}


@dataclass
class ReviewResult:
    start: ClusterScores
    end: ClusterScores
    answers: int
    skipped: int
    curve: list[tuple[int, float]]
    people_start: int
    people_end: int
    people_true: int
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"start": _scores(self.start), "answers": self.answers,
                "curve": [[n, round(f, 4)] for n, f in self.curve], "end": _scores(self.end),
                "skipped": self.skipped, "answers_by_kind": self.by_kind,
                "people": {"start": self.people_start, "end": self.people_end, "true": self.people_true},
                "seconds": round(self.seconds, 2)}


def _persons(library: Library, faces: list[int]) -> dict[int, int | None]:
    with library.reader() as session:
        return {f: p for f, p in session.execute(select(Face.id, Face.person_id).where(Face.id.in_(faces)))}


def _score(library: Library, truth: dict[int, str]) -> tuple[ClusterScores, int]:
    faces = list(truth)
    predicted = predicted_labels(library, faces)
    found = {p for p in predicted if p.startswith("person-")}
    return score(predicted, [truth[f] for f in faces]), len(found)


def simulate_review(library: Library, truth: dict[int, str], budget: int | None = None,
                    settings: PeopleSettings | None = None,
                    progress: Callable[[int, float], None] | None = None) -> ReviewResult:
    """Answer ``library``'s questions truthfully (``truth``: face id -> who it is, for the faces
    whose truth is known) until ``budget`` answers or nothing is left to ask."""
    started = time.monotonic()
    settings = settings or load_settings(library)
    start, people_start = _score(library, truth)
    board = QuestionBoard(library, settings)
    skipped: set[tuple[str, int, int]] = set()
    curve: list[tuple[int, float]] = [(0, start.bcubed_f)]
    by_kind: Counter[str] = Counter()
    answers = 0

    def who(person_id: int) -> str | None:
        with library.reader() as session:
            faces = session.scalars(select(Face.id).where(Face.person_id == person_id)).all()
        labels = Counter(truth[f] for f in faces if f in truth)
        return labels.most_common(1)[0][0] if labels else None

    while budget is None or answers < budget:
        questions = board.questions(limit=1, skip=skipped)
        if not questions:
            break
        q = questions[0]
        if q.kind == "merge":
            assert q.person is not None
            a, b = who(q.person), who(q.into)
            if a is None or b is None:
                skipped.add(q.key)
                continue
            if a == b:
                ops.merge(library, q.person, q.into)
                by_kind["merge_yes"] += 1
            else:
                ops.apart(library, q.person, q.into)
                by_kind["merge_no"] += 1
        else:
            assert q.face is not None
            face_truth, person = truth.get(q.face), who(q.into)
            if face_truth is None or person is None:
                skipped.add(q.key)
                continue
            if face_truth == person:
                ops.move(library, [q.face], q.into)
                by_kind["face_yes"] += 1
            else:
                owner = _persons(library, [q.face]).get(q.face)
                ops.reject(library, [q.face], None if owner is not None else q.into)
                by_kind["face_no"] += 1
        answers += 1
        board.refresh()
        now, _ = _score(library, truth)
        curve.append((answers, now.bcubed_f))
        if progress:
            progress(answers, now.bcubed_f)
    recluster(library, settings)  # what the next scan or regroup does: the answers must hold
    end, people_end = _score(library, truth)
    return ReviewResult(start=start, end=end, answers=answers, skipped=len(skipped), curve=curve,
                        people_start=people_start, people_end=people_end,
                        people_true=len(set(truth.values())), seconds=time.monotonic() - started,
                        by_kind=dict(by_kind))


def evaluate_review(folder: Path, models: ModelsFactory, budget: int | None = None,
                    settings: ScanSettings | None = None, people: PeopleSettings | None = None,
                    progress: Callable[[int, float], None] | None = None) -> ReviewResult:
    """Scan ``folder`` (a sub-folder per person), group it, and answer its questions; the default
    budget is two answers per true person."""
    started = time.monotonic()
    folder = Path(folder).absolute()
    with (tempfile.TemporaryDirectory(prefix="faceorganizer-review-") as tmp,
          Library(Path(tmp) / "review.sqlite") as library):
        for _ in scan_and_group(library, [folder], models, settings, people or PeopleSettings()):
            pass
        truth = folder_truth(library, folder)
        if budget is None:
            budget = 2 * len(set(truth.values()))
        result = simulate_review(library, truth, budget, people, progress)
    result.seconds = time.monotonic() - started
    return result
