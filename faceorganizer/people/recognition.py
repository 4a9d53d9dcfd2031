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
from faceorganizer.space import Embeddings
from faceorganizer.store import Library
from faceorganizer.store.faces import comparable_faces
from faceorganizer.store.records import library_space
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


def embed_faces(models: Models, faces: list[FoundFace]) -> Embeddings:
    """The faces' embeddings, in the embedder's space."""
    return Embeddings(models.embedder.embed(np.stack([f.crop for f in faces])), models.embedder.space)


def embed_face(models: Models, face: FoundFace) -> Embeddings:
    return embed_faces(models, [face])


@dataclass(frozen=True)
class Verdict:
    distance: float
    threshold: float
    same: bool


def verify(models: Models, first: Path, second: Path, settings: PeopleSettings) -> Verdict:
    """Whether the largest faces of two photos are the same person. ``settings`` are in the
    built-in distances; the threshold is read in the space of the embeddings compared."""
    a = embed_face(models, pick_face(faces_in(first, models), first))
    b = embed_face(models, pick_face(faces_in(second, models), second))
    distance = float(a.distances_to(b)[0, 0])
    threshold = settings.in_space(a.space).verify_threshold
    return Verdict(distance, threshold, distance < threshold)


@dataclass(frozen=True)
class Identified:
    box: tuple[float, float, float, float]
    person: int | None
    name: str | None
    distance: float | None


@dataclass(frozen=True)
class KnownPeople:
    """The named people's faces that identification compares with, in the library's space."""

    person: np.ndarray  # person id per face
    names: dict[int, str]
    embeddings: Embeddings | None  # None when no one is named

    @classmethod
    def load(cls, library: Library) -> KnownPeople:
        with library.reader() as session:
            space = library_space(session)
            rows = session.execute(
                select(Face.person_id, Face.embedding, Person.name)
                .join(Person, Face.person_id == Person.id)
                .where(Person.name.is_not(None), comparable_faces(session),
                       Face.state != FaceState.SUGGESTED)).all()
        if not rows or space is None:
            return cls(np.zeros(0, np.int64), {}, None)
        return cls(np.array([r[0] for r in rows]), {r[0]: r[2] for r in rows},
                   Embeddings(np.stack([r[1] for r in rows]), space))


def identify(library: Library, models: Models, path: Path,
             settings: PeopleSettings) -> list[Identified]:
    """Each face of a photo, named after the known person it matches (if any).

    Known people are the named ones (their confirmed and automatic faces embedded in the
    library's space: faces still waiting to be re-embedded after a switch take no part); a
    face matches one when its mean distance to that person's faces is within the match
    threshold and clearly smaller than to any other named person (the rule that makes
    suggestions). ``settings`` are in the built-in distances.
    """
    faces = faces_in(path, models)
    if not faces:
        return []
    known = KnownPeople.load(library)
    if known.embeddings is None:
        return [Identified(f.detection.box, None, None, None) for f in faces]
    known.embeddings.space.check(models.embedder.space, "the faces of this photo")
    queries = embed_faces(models, faces)
    settings = settings.in_space(known.embeddings.space)
    ids, means = person_means(known.embeddings.vectors, known.person, np.ones(len(known.person), dtype=bool))
    match, nearest = best_matches(queries.vectors, means, settings.match_threshold, settings.match_isolation)
    out = []
    for face, m, d in zip(faces, match, nearest, strict=True):
        pid = int(ids[m]) if m >= 0 else None
        out.append(Identified(face.detection.box, pid, known.names.get(pid) if pid else None,
                              float(d) if np.isfinite(d) else None))
    return out
