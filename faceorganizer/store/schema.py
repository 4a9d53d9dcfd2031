"""The library's tables as SQLAlchemy 2 typed models.

Schema version 2. A change to these tables needs a new version and a migration
in :mod:`faceorganizer.store.migrations`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

PHOTO_OK = "ok"
PHOTO_FAILED = "failed"
PHOTO_MISSING = "missing"

# How a face came to belong to its person.
FACE_AUTO = "auto"  # clustering put it there; the next re-clustering may move it
FACE_SUGGESTED = "suggested"  # close to a person the user knows; waits for a yes or no
FACE_CONFIRMED = "confirmed"  # the user said so; nothing automatic moves it


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class EmbeddingBlob(TypeDecorator[np.ndarray]):
    """A float32 vector stored as little-endian bytes (2 KB for 512-d)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return np.asarray(value, dtype="<f4").tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> np.ndarray | None:
        if value is None:
            return None
        return np.frombuffer(value, dtype="<f4").astype(np.float32)


class Base(DeclarativeBase):
    pass


class Root(Base):
    """A folder the user added; scans walk it recursively."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_scan_at: Mapped[datetime | None]


class Photo(Base):
    """A photo file. Its faces stay when it goes missing; only ``purge`` drops them."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    path: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int | None]
    height: Mapped[int | None]
    taken_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    faces: Mapped[list[Face]] = relationship(back_populates="photo", cascade="all, delete-orphan",
                                             passive_deletes=True)


class Person(Base):
    """A person: a group of faces, named or not."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rejection(Base):
    """The user said this face is not this person: it is never put or suggested there again."""

    __tablename__ = "rejections"

    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Setting(Base):
    """A library-wide setting (clustering thresholds and the like), as JSON."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Face(Base):
    """A detected face: box and landmarks in the displayed photo's pixels, and its embedding."""

    __tablename__ = "faces"
    __table_args__ = (Index("ix_faces_person", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[float]] = mapped_column(JSON)
    probability: Mapped[float] = mapped_column(Float)
    embedding: Mapped[np.ndarray] = mapped_column(EmbeddingBlob)
    embedding_model: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=FACE_AUTO, server_default=FACE_AUTO)
    ignored: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="faces")

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)
