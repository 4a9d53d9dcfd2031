"""What grouping reads in one go: every comparable face as arrays, the rejections and the
pairs of people said to be different."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from faceorganizer.space import EmbeddingSpace
from faceorganizer.store.faces import comparable_faces
from faceorganizer.store.records import library_space
from faceorganizer.store.schema import Apart, Face, Rejection


@dataclass(frozen=True)
class FaceTable:
    """Every face that can be compared (see ``comparable_faces``), as arrays (one row per face),
    and the space of their embeddings (None for a library that records none)."""

    ids: np.ndarray
    person: np.ndarray  # person id, -1 for none
    state: np.ndarray  # str
    size: np.ndarray  # min(width, height) in photo pixels
    probability: np.ndarray
    embeddings: np.ndarray  # (n, 512) float32
    space: EmbeddingSpace | None = None


def face_table(session: Session) -> FaceTable:
    space = library_space(session)
    rows = session.execute(
        select(Face.id, Face.person_id, Face.state, Face.x1, Face.y1, Face.x2, Face.y2,
               Face.probability, Face.embedding).where(comparable_faces(session)).order_by(Face.id)).all()
    if not rows:
        return FaceTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object),
                         np.zeros(0), np.zeros(0), np.zeros((0, 512), np.float32), space)
    return FaceTable(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        person=np.array([r.person_id if r.person_id is not None else -1 for r in rows], dtype=np.int64),
        state=np.array([r.state for r in rows], dtype=object),
        size=np.array([min(r.x2 - r.x1, r.y2 - r.y1) for r in rows]),
        probability=np.array([r.probability for r in rows]),
        embeddings=np.stack([r.embedding for r in rows]).astype(np.float32),
        space=space,
    )


def rejections(session: Session) -> set[tuple[int, int]]:
    return {(f, p) for f, p in session.execute(select(Rejection.face_id, Rejection.person_id))}


def apart_pairs(session: Session) -> set[tuple[int, int]]:
    """(person, other) with person < other: the pairs the user said are different people."""
    return {(a, b) for a, b in session.execute(select(Apart.person_id, Apart.other_id))}
