"""The library's tables as SQLAlchemy 2 typed models.

Schema version 6. A change to these tables needs a new version and a migration
in :mod:`faceorganizer.store.migrations`. Photos, people and faces never reuse the id
of a deleted row (SQLite ``AUTOINCREMENT``), so an id held by an undo step, a script
or the window always means the same row or none.

The columns that record the user's decisions carry ``info={"decision": True}``
(whole tables: ``__decision_table__``): undo captures exactly those
(:mod:`faceorganizer.people.undo`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    func,
    select,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from faceorganizer.store.states import FaceOrigin, FaceState, PhotoStatus

# Columns that differ by database only where they must: 64-bit integers (SQLite's INTEGER is
# already 64-bit; its schema text stays as it was), and paths compared byte by byte (a server's
# locale collation would break the prefix ranges that find a folder's photos).
BIG = Integer().with_variant(BigInteger(), "postgresql")
PATH = Text().with_variant(Text(collation="C"), "postgresql")

DECISION = {"decision": True}  # column info: the user's decision, captured by undo
AUTOINCREMENT: Any = {"sqlite_autoincrement": True}  # ids of deleted rows are never reused


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


def _enum(enum: type[FaceState] | type[PhotoStatus] | type[FaceOrigin]) -> SqlEnum:
    """An enum column stored as its values in a VARCHAR(16) (the schema's text is unchanged)."""
    return SqlEnum(enum, native_enum=False, create_constraint=False, length=16,
                   values_callable=lambda members: [m.value for m in members], validate_strings=True)


class Base(DeclarativeBase):
    pass


class Root(Base):
    """A folder the user added; scans walk it recursively. ``path`` is where it was added, on the
    machine that added it; where each machine finds it is in :class:`RootPath`."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(PATH)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_scan_at: Mapped[datetime | None]


class RootPath(Base):
    """Where one machine finds a root (the same share is /mnt/photos on one and /Volumes/photos
    on another). A library file uses its root's own path where it has none; a library on a
    server treats a root with none as offline on that machine."""

    __tablename__ = "root_paths"
    __table_args__ = (UniqueConstraint("machine", "path", name="uq_root_paths_machine_path"),)

    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id", ondelete="CASCADE"), primary_key=True)
    machine: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(PATH)


def current_machine() -> str:
    """This machine's name in root mappings: ``$FACEORGANIZER_MACHINE``, else the host name."""
    import os
    import socket

    return (os.environ.get("FACEORGANIZER_MACHINE") or socket.gethostname() or "this machine")[:255]


MACHINE = bindparam("machine", callable_=current_machine, type_=String(255))


def local_root(root_id: Any) -> Any:
    """SQL: where the root ``root_id`` is on this machine: its mapping, else the path it was added
    at (see :class:`RootPath`), without a trailing separator."""
    mapped = (select(RootPath.path).where(RootPath.root_id == root_id, RootPath.machine == MACHINE)
              .scalar_subquery())
    added = select(Root.path).where(Root.id == root_id).scalar_subquery()
    return func.rtrim(func.coalesce(mapped, added), "/")


class Scan(Base):
    """A scan running now, on any machine. It beats (``heartbeat``, seconds on the database's
    clock) while it runs; one that stopped beating was killed, and its claims lapse."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(BIG)
    started: Mapped[int] = mapped_column(BIG)
    heartbeat: Mapped[int] = mapped_column(BIG)


class Claim(Base):
    """A file a running scan is analysing (or a moved photo it is taking over): other scans
    leave it alone while the claim holds, so that several scans split the work."""

    __tablename__ = "claims"

    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id", ondelete="CASCADE"), primary_key=True)
    rel: Mapped[str] = mapped_column(PATH, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)


class Photo(Base):
    """A photo file. Its faces stay when it goes missing; only ``purge`` drops them."""

    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("root_id", "rel", name="uq_photos_root_rel"), AUTOINCREMENT)

    id: Mapped[int] = mapped_column(primary_key=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    # where the photo is in its root, '/'-separated (a photo in no root: its absolute path)
    rel: Mapped[str] = mapped_column(PATH)
    # where the photo is on this machine (read-only: a scan sets ``root_id`` and ``rel``)
    path: Mapped[str] = column_property(
        case((root_id.is_(None), rel), else_=local_root(root_id) + "/" + rel).label("path"))
    size: Mapped[int] = mapped_column(BIG)
    mtime_ns: Mapped[int] = mapped_column(BIG)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int | None]
    height: Mapped[int | None]
    taken_at: Mapped[datetime | None]
    status: Mapped[PhotoStatus] = mapped_column(_enum(PhotoStatus), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # what was wrong with the photo's face regions (XMP), one line each; the photo was scanned
    warning: Mapped[str | None] = mapped_column(Text)
    # the XMP sidecar read with it ("name size mtime_ns"), so that an edited sidecar is read again
    sidecar: Mapped[str | None] = mapped_column(Text)
    # the face detector that analysed it ("retinaface", "mtcnn"); another one re-detects it
    detector: Mapped[str | None] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    faces: Mapped[list[Face]] = relationship(back_populates="photo", cascade="all, delete-orphan",
                                             passive_deletes=True)


class Person(Base):
    """A person: a group of faces, named or not."""

    __tablename__ = "people"
    __table_args__ = AUTOINCREMENT
    __decision_table__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rejection(Base):
    """The user said this face is not this person: it is never put or suggested there again."""

    __tablename__ = "rejections"
    __decision_table__ = True

    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Apart(Base):
    """The user said these two people are different: their faces are never put together by a
    scan or a regrouping, and the pair is never asked about again. ``person_id`` < ``other_id``."""

    __tablename__ = "apart"
    __decision_table__ = True

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Setting(Base):
    """A library-wide setting (clustering thresholds and the like), as JSON."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Face(Base):
    """A detected face: box and landmarks in the displayed photo's pixels, and its embedding."""

    __tablename__ = "faces"
    # who holds each face, read without touching the rows (the questions board reads it after
    # every answer); also the index for a person's faces
    __table_args__ = (Index("ix_faces_holder", "person_id", "state", "ignored"),
                      {"sqlite_autoincrement": True})

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
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"),
                                                  info=DECISION)
    state: Mapped[FaceState] = mapped_column(_enum(FaceState), default=FaceState.AUTO,
                                             server_default=FaceState.AUTO.value, info=DECISION)
    ignored: Mapped[bool] = mapped_column(default=False, server_default="0", info=DECISION)
    origin: Mapped[FaceOrigin] = mapped_column(_enum(FaceOrigin), default=FaceOrigin.DETECTED,
                                               server_default=FaceOrigin.DETECTED.value)
    detector: Mapped[str | None] = mapped_column(String(16))  # which one found it (detected faces)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="faces")

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)
