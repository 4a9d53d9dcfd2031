"""Verification (same person in two photos?) and identification (who is in this photo?)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from faceorganizer.analysis import FoundFace, analyze
from faceorganizer.errors import FaceorganizerError
from faceorganizer.imaging import ImageError
from faceorganizer.models.base import Models
from faceorganizer.people.recluster import best_matches, person_means
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person
from faceorganizer.store.states import FaceState


class RecognitionError(FaceorganizerError):
    """A photo that cannot be used for recognition (unreadable, no face...)."""


def faces_in(path: Path, models: Models, settings: ScanSettings | None = None) -> list[FoundFace]:
    """The faces of an outside photo, left to right."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecognitionError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        found = analyze(data, models.detector, settings or ScanSettings())
    except ImageError as exc:
        raise RecognitionError(f"{path}: {exc}.") from exc
    return sorted(found.faces, key=lambda f: f.detection.box[0])


def pick_face(faces: list[FoundFace], path: Path, pick: int | None = None) -> FoundFace:
    """The chosen face (1 = leftmost) or, by default, the largest one."""
    if not faces:
        raise RecognitionError(f"No face was found in {path}.")
    if pick is None:
        return max(faces, key=lambda f: f.detection.width * f.detection.height)
    if not 1 <= pick <= len(faces):
        raise RecognitionError(f"{path} has {len(faces)} faces; pick one from 1 to {len(faces)}.")
    return faces[pick - 1]


def embed_face(models: Models, face: FoundFace) -> np.ndarray:
    return models.embedder.embed(np.stack([face.crop]))[0]


@dataclass(frozen=True)
class Verdict:
    distance: float
    threshold: float
    same: bool


def verify(models: Models, first: Path, second: Path, settings: PeopleSettings) -> Verdict:
    """Whether the largest faces of two photos are the same person."""
    a = embed_face(models, pick_face(faces_in(first, models), first))
    b = embed_face(models, pick_face(faces_in(second, models), second))
    distance = float(np.sum((a - b) ** 2))
    return Verdict(distance, settings.verify_threshold, distance < settings.verify_threshold)


@dataclass(frozen=True)
class Identified:
    box: tuple[float, float, float, float]
    person: int | None
    name: str | None
    distance: float | None


def identify(library: Library, models: Models, path: Path,
             settings: PeopleSettings) -> list[Identified]:
    """Each face of a photo, named after the known person it matches (if any).

    Known people are the named ones; a face matches one when its mean distance to
    that person's faces is within the match threshold and clearly smaller than to
    any other named person (the rule that makes suggestions).
    """
    faces = faces_in(path, models)
    if not faces:
        return []
    with library.reader() as session:
        rows = session.execute(
            select(Face.person_id, Face.embedding, Person.name)
            .join(Person, Face.person_id == Person.id)
            .where(Person.name.is_not(None), Face.ignored.is_(False),
                   Face.state != FaceState.SUGGESTED)).all()
    queries = models.embedder.embed(np.stack([f.crop for f in faces]))
    if not rows:
        return [Identified(f.detection.box, None, None, None) for f in faces]
    person = np.array([r[0] for r in rows])
    names = {r[0]: r[2] for r in rows}
    ids, means = person_means(np.stack([r[1] for r in rows]), person, np.ones(len(rows), dtype=bool))
    match, nearest = best_matches(queries, means, settings.match_threshold, settings.match_isolation)
    out = []
    for face, m, d in zip(faces, match, nearest, strict=True):
        pid = int(ids[m]) if m >= 0 else None
        out.append(Identified(face.detection.box, pid, names.get(pid) if pid else None,
                              float(d) if np.isfinite(d) else None))
    return out
