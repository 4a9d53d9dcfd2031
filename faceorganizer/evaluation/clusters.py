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

from sqlalchemy import func, select

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
        largest = largest_faces(lib)
        truth = truth_of(largest, folder)
        predicted = predicted_labels(lib, list(truth))
        with lib.reader() as session:
            photos = session.scalar(select(func.count()).select_from(Photo)) or 0
    scores = score(predicted, list(truth.values()))
    found = {p for p in predicted if p.startswith("person-")}
    return ClusterEvaluation(scores, people_found=len(found), people_true=len(set(truth.values())),
                             photos=photos, photos_without_face=photos - len(largest),
                             seconds=time.monotonic() - started)


def largest_faces(library: Library) -> dict[str, int]:
    """Each photo's largest face (not marked as not a face): photo path -> face id."""
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face.id, Face.x1, Face.y1, Face.x2, Face.y2)
                               .join(Face, Face.photo_id == Photo.id)
                               .where(Face.ignored.is_(False))).all()
    largest: dict[str, tuple[float, int]] = {}
    for path, face_id, x1, y1, x2, y2 in rows:
        area = (x2 - x1) * (y2 - y1)
        if path not in largest or area > largest[path][0]:
            largest[path] = (area, face_id)
    return {path: face_id for path, (_, face_id) in largest.items()}


def folder_truth(library: Library, folder: Path) -> dict[int, str]:
    """The largest face of each photo in a person's folder -> that folder's name (photos
    directly in ``folder`` belong to nobody in particular), in photo path order."""
    return truth_of(largest_faces(library), folder)


def truth_of(largest: dict[str, int], folder: Path) -> dict[int, str]:
    truth = {}
    for path, face_id in sorted(largest.items()):
        relative = Path(path).relative_to(folder)
        if len(relative.parts) >= 2:
            truth[face_id] = relative.parts[0]
    return truth


def predicted_labels(library: Library, faces: list[int]) -> list[str]:
    """Who grouping says each face is: ``person-ID``, or ``unsorted-FACE`` (a group of its own)."""
    with library.reader() as session:
        persons = {f: p for f, p in session.execute(
            select(Face.id, Face.person_id).where(Face.id.in_(faces)))}
    return [f"person-{persons[f]}" if persons.get(f) is not None else f"unsorted-{f}" for f in faces]

