"""Person rows and what the people layer reads and writes in one go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from faceorganizer.store.schema import Face, Person, Photo, Rejection, Setting

REVISION = "decisions_revision"
FACES_REVISION = "faces_revision"
GROUPED_REVISION = "grouped_faces_revision"
WEIGHTS = "weights"  # {"path": file or None for the built-in weights, "model_id": ...}


def get_setting(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(Setting, key)
    return default if row is None else row.value


def put_setting(session: Session, key: str, value: Any) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def revision(session: Session) -> int:
    """A counter bumped by every user decision; re-clustering checks it before writing."""
    return int(get_setting(session, REVISION, 0))


def bump_revision(session: Session) -> None:
    put_setting(session, REVISION, revision(session) + 1)


def faces_revision(session: Session) -> int:
    """A counter bumped whenever faces are added, changed or deleted by a scan or purge."""
    return int(get_setting(session, FACES_REVISION, 0))


def bump_faces_revision(session: Session) -> None:
    put_setting(session, FACES_REVISION, faces_revision(session) + 1)


def grouping_is_stale(session: Session) -> bool:
    """Whether faces changed since they were last grouped into people."""
    return get_setting(session, GROUPED_REVISION) != faces_revision(session)


def current_model(session: Session) -> str | None:
    """The model the library's embeddings come from (None until a scan records one)."""
    stored = get_setting(session, WEIGHTS)
    return stored.get("model_id") if isinstance(stored, dict) else None


def distance_scale(session: Session) -> float:
    """The distance scale of the library's weights (1.0 for the built-in ones)."""
    stored = get_setting(session, WEIGHTS)
    value = stored.get("distance_scale", 1.0) if isinstance(stored, dict) else 1.0
    return float(value) if isinstance(value, int | float) and value > 0 else 1.0


def comparable_faces(session: Session) -> Any:
    """The condition for faces that can be compared: not ignored, and embedded by the
    library's current model (faces still waiting to be re-embedded keep their person
    but stay out of grouping and search)."""
    model = current_model(session)
    condition = Face.ignored.is_(False)
    return condition if model is None else condition & (Face.embedding_model == model)


@dataclass(frozen=True)
class FaceTable:
    """Every face that is not ignored, as arrays (one row per face)."""

    ids: np.ndarray
    person: np.ndarray  # person id, -1 for none
    state: np.ndarray  # str
    size: np.ndarray  # min(width, height) in photo pixels
    probability: np.ndarray
    embeddings: np.ndarray  # (n, 512) float32


def face_table(session: Session) -> FaceTable:
    rows = session.execute(
        select(Face.id, Face.person_id, Face.state, Face.x1, Face.y1, Face.x2, Face.y2,
               Face.probability, Face.embedding).where(comparable_faces(session)).order_by(Face.id)).all()
    if not rows:
        return FaceTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object),
                         np.zeros(0), np.zeros(0), np.zeros((0, 512), np.float32))
    return FaceTable(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        person=np.array([r.person_id if r.person_id is not None else -1 for r in rows], dtype=np.int64),
        state=np.array([r.state for r in rows], dtype=object),
        size=np.array([min(r.x2 - r.x1, r.y2 - r.y1) for r in rows]),
        probability=np.array([r.probability for r in rows]),
        embeddings=np.stack([r.embedding for r in rows]).astype(np.float32),
    )


def rejections(session: Session) -> set[tuple[int, int]]:
    return {(f, p) for f, p in session.execute(select(Rejection.face_id, Rejection.person_id))}


@dataclass(frozen=True)
class PersonFace:
    id: int
    photo: str
    box: tuple[float, float, float, float]
    state: str
    taken_at: Any = None


@dataclass(frozen=True)
class PersonRow:
    id: int
    name: str | None
    hidden: bool
    faces: list[PersonFace]

    @property
    def suggestions(self) -> int:
        return sum(1 for f in self.faces if f.state == "suggested")


def list_people(session: Session) -> list[PersonRow]:
    """People with at least one face: named ones by name, then unnamed ones, largest first."""
    rows = session.execute(
        select(Face.person_id, Face.id, Photo.path, Face.x1, Face.y1, Face.x2, Face.y2, Face.state,
               Photo.taken_at)
        .join(Photo, Face.photo_id == Photo.id)
        .where(Face.person_id.is_not(None), Face.ignored.is_(False))
        .order_by(Face.person_id, Photo.path, Face.id))
    faces: dict[int, list[PersonFace]] = {}
    for r in rows:
        faces.setdefault(r.person_id, []).append(
            PersonFace(r.id, r.path, (r.x1, r.y1, r.x2, r.y2), r.state, r.taken_at))
    people = session.scalars(select(Person).where(Person.id.in_(list(faces)))).all()
    found = [PersonRow(p.id, p.name, p.hidden, faces[p.id]) for p in people]
    return sorted(found, key=lambda p: (p.name is None, (p.name or "").casefold(), -len(p.faces), p.id))


def person_counts(session: Session) -> dict[str, int]:
    """How many people (with faces), named ones, and unsorted faces there are."""
    with_faces = select(Face.person_id).where(Face.person_id.is_not(None),
                                              Face.ignored.is_(False)).distinct().subquery()
    people = session.scalar(select(func.count()).select_from(with_faces)) or 0
    named = session.scalar(select(func.count(Person.id)).where(
        Person.name.is_not(None), Person.id.in_(select(with_faces.c.person_id)))) or 0
    unsorted = session.scalar(select(func.count(Face.id)).where(
        Face.person_id.is_(None), Face.ignored.is_(False))) or 0
    return {"people": people, "named": named, "unsorted": unsorted}
