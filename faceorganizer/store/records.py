"""Library-wide records: settings, the revision counters, and the weights the library uses.

Settings are small JSON values by key. Three counters order concurrent work: the
decisions revision (bumped by every user decision; a regrouping planned before one
is planned again), the faces revision (bumped when a scan, purge or re-embedding
changes faces) and the faces revision last grouped (so a regrouping runs only when
faces changed). The weights record is the library's embedding space and the file it
came from; faces embedded in another space wait to be re-embedded and take part in
nothing until then (``store.faces.comparable_faces``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from faceorganizer.space import EmbeddingSpace
from faceorganizer.store.schema import Face, Setting

DECISIONS_REVISION = "decisions_revision"
FACES_REVISION = "faces_revision"
GROUPED_REVISION = "grouped_faces_revision"
WEIGHTS = "weights"  # {"path": file or None for the built-in weights, "model_id", "distance_scale"}


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
    return int(get_setting(session, DECISIONS_REVISION, 0))


def bump_revision(session: Session) -> None:
    put_setting(session, DECISIONS_REVISION, revision(session) + 1)


def faces_revision(session: Session) -> int:
    """A counter bumped whenever faces are added, changed or deleted by a scan or purge."""
    return int(get_setting(session, FACES_REVISION, 0))


def bump_faces_revision(session: Session) -> None:
    put_setting(session, FACES_REVISION, faces_revision(session) + 1)


def grouping_is_stale(session: Session) -> bool:
    """Whether faces changed since they were last grouped into people."""
    return get_setting(session, GROUPED_REVISION) != faces_revision(session)


def mark_grouped(session: Session, faces_revision: int) -> None:
    put_setting(session, GROUPED_REVISION, faces_revision)


@dataclass(frozen=True)
class WeightsRecord:
    """The weights a library uses: their file (None for the built-in ones) and their space."""

    path: str | None
    space: EmbeddingSpace

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, **self.space.to_record()}


def weights_record(session: Session) -> WeightsRecord | None:
    stored = get_setting(session, WEIGHTS)
    if not isinstance(stored, dict) or not isinstance(stored.get("model_id"), str):
        return None
    path = stored.get("path")
    return WeightsRecord(path if isinstance(path, str) else None,
                         EmbeddingSpace(stored["model_id"], stored.get("distance_scale", 1.0)))


def put_weights_record(session: Session, record: WeightsRecord) -> None:
    put_setting(session, WEIGHTS, record.as_dict())


def library_space(session: Session) -> EmbeddingSpace | None:
    """The space of the library's embeddings: the recorded one; for a library from before
    weights were recorded, that of most of its faces; None for a library without faces."""
    record = weights_record(session)
    if record is not None:
        return record.space
    model = session.execute(select(Face.embedding_model).group_by(Face.embedding_model)
                            .order_by(func.count(Face.id).desc(), Face.embedding_model).limit(1)).scalar()
    return EmbeddingSpace(model) if model is not None else None
