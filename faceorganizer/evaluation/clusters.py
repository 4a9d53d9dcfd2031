"""Clustering quality on a folder per person, through the whole pipeline.

The folder is scanned into a library of its own and grouped into people exactly
as a user's library would be. Each photo's largest face is then labelled with the
person it landed in (an unsorted face is a group of its own) and scored against
its folder's name.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from faceorganizer.evaluation.metrics import ClusterScores, score
from faceorganizer.jobs import scan_and_group
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.scan.scanner import ModelsFactory
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Photo


@dataclass(frozen=True)
class ClusterEvaluation:
    scores: ClusterScores
    people_found: int
    people_true: int
    photos: int
    photos_without_face: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {**self.scores.as_dict(), "people_found": self.people_found,
                "people_true": self.people_true, "photos": self.photos,
                "photos_without_face": self.photos_without_face, "seconds": round(self.seconds, 2)}


def evaluate_folder(folder: Path, models: ModelsFactory, settings: ScanSettings | None = None,
                    people: PeopleSettings | None = None, library: Path | None = None,
                    progress: Callable[[object], None] | None = None) -> ClusterEvaluation:
    """Scan ``folder`` (a sub-folder per person), group it, score the largest face per photo."""
    started = time.monotonic()
    folder = Path(folder).absolute()
    with (tempfile.TemporaryDirectory(prefix="faceorganizer-eval-") as tmp,
          Library(library or Path(tmp) / "evaluation.sqlite") as lib):
        for event in scan_and_group(lib, [folder], models, settings, people or PeopleSettings()):
            if progress:
                progress(event)
        with lib.reader() as session:
            rows = session.execute(select(Photo.path, Face.id, Face.person_id, Face.x1, Face.y1,
                                          Face.x2, Face.y2)
                                   .outerjoin(Face, (Face.photo_id == Photo.id)
                                              & Face.ignored.is_(False))).all()
    largest: dict[str, tuple[float, int, int | None]] = {}
    photos = set()
    for path, face_id, person_id, x1, y1, x2, y2 in rows:
        photos.add(path)
        if face_id is None:
            continue
        area = (x2 - x1) * (y2 - y1)
        if path not in largest or area > largest[path][0]:
            largest[path] = (area, face_id, person_id)
    truth, predicted = [], []
    for path, (_, face_id, person_id) in sorted(largest.items()):
        relative = Path(path).relative_to(folder)
        if len(relative.parts) < 2:
            continue  # photos directly in the folder belong to nobody in particular
        truth.append(relative.parts[0])
        predicted.append(f"person-{person_id}" if person_id is not None else f"unsorted-{face_id}")
    scores = score(predicted, truth)
    found = {p for p in predicted if p.startswith("person-")}
    return ClusterEvaluation(scores, people_found=len(found), people_true=len(set(truth)),
                             photos=len(photos), photos_without_face=len(photos) - len(largest),
                             seconds=time.monotonic() - started)
