"""Which FaceNet weights a library uses, and re-embedding its faces when they change.

A library records the weights its embeddings come from (``store.records``: the file,
or none for the built-in ones, and their embedding space: model id and distance scale,
by which the people thresholds are read: see ``people.settings``). Embeddings from
different weights cannot be compared, so switching weights re-embeds every face from
its photo, cut by the stored box; faces keep their ids, people, names, confirmations
and rejections, since those belong to faces, not to embeddings. Until a face is
re-embedded it stays out of grouping and search (``store.faces.comparable_faces``).
Work is committed a few photos at a time, so a cancelled or crashed switch goes on
where it stopped.

Precedence for a library: ``--weights`` (which switches the library), else what the
library records, else ``$FACEORGANIZER_WEIGHTS``, else the built-in weights.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update

from faceorganizer.analysis import stored_face_crops
from faceorganizer.imaging import ImageError
from faceorganizer.models.base import Models
from faceorganizer.models.weights import ResolvedWeights, WeightsError, resolve
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.records import (
    WeightsRecord,
    bump_faces_revision,
    library_space,
    put_weights_record,
    weights_record,
)
from faceorganizer.store.schema import Face, Photo
from faceorganizer.store.states import PhotoStatus

PHOTOS_PER_COMMIT = 16


def recorded_weights(library: Library) -> WeightsRecord | None:
    with library.reader() as session:
        return weights_record(session)


def library_weights(library: Library, override: str | Path | None = None, *, switch: bool = True,
                    progress: Callable[[str], None] | None = None) -> ResolvedWeights:
    """The weights to embed this library's faces with.

    With ``override`` and ``switch``, the library is switched to it (its faces are then
    stale until re-embedded); with ``switch=False`` an override that differs from the
    library's weights is an error, since its embeddings would not be comparable.
    """
    stored = recorded_weights(library)
    if override is not None:
        resolved = resolve(override, progress=progress)
    elif stored is not None:
        path = stored.path
        try:
            resolved = resolve(path, use_env=False, progress=progress)
        except WeightsError as exc:
            raise WeightsError(f"This library uses the weights {path}, which cannot be found ({exc}). "
                               "Put the file back, or run `faceorganizer weights use builtin` "
                               "(or another file) to re-embed the faces.") from exc
    else:
        resolved = resolve(None, progress=progress)
    if stored is None or stored.space.model_id != resolved.model_id:
        if stored is not None and not switch:
            raise WeightsError(
                f"This library's faces were embedded with {stored.space.model_id}, not "
                f"{resolved.model_id}; their distances cannot be compared. Switch the library "
                f"with `faceorganizer weights use {override}` first.")
        record(library, resolved)
    return resolved


def record(library: Library, resolved: ResolvedWeights) -> None:
    """Make ``resolved`` the library's weights (its faces are stale until re-embedded)."""
    value = WeightsRecord(None if resolved.builtin else str(resolved.path), resolved.space)
    with library.session() as session:
        put_weights_record(session, value)


def stale_faces(library: Library) -> int:
    """Faces whose embeddings are not from the library's current weights."""
    with library.reader() as session:
        space = library_space(session)
        if space is None:
            return 0
        return int(session.scalar(select(func.count(Face.id))
                                  .where(Face.embedding_model != space.model_id)) or 0)


@dataclass(frozen=True)
class ReembedProgress:
    done: int       # faces
    total: int


@dataclass(frozen=True)
class ReembedSummary:
    model_id: str
    faces: int          # re-embedded
    unreadable: int     # faces whose photo is missing or unreadable now (still stale)
    seconds: float
    cancelled: bool

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReembedFinished:
    summary: ReembedSummary


def reembed(library: Library, models: Callable[[], Models], settings: ScanSettings | None = None,
            cancel: threading.Event | None = None) -> Iterator[ReembedProgress | ReembedFinished]:
    """Re-embed every stale face with ``models().embedder`` (which must be the library's weights)."""
    settings = settings or ScanSettings()
    started = time.monotonic()
    with library.reader() as session:
        space = library_space(session)
        model = space.model_id if space is not None else None
        rows = session.execute(
            select(Face.id, Face.x1, Face.y1, Face.x2, Face.y2, Photo.path, Photo.status)
            .join(Photo, Photo.id == Face.photo_id)
            .where(Face.embedding_model != model).order_by(Photo.path, Face.id)).all() if model else []
    if not rows:
        yield ReembedFinished(ReembedSummary(model or "", 0, 0, 0.0, False))
        return
    embedder = models().embedder
    if space is None or embedder.space.model_id != space.model_id:
        raise WeightsError(f"cannot re-embed: the loaded weights are {embedder.space.model_id}, "
                           f"the library uses {model}")
    by_photo: dict[str, list] = {}
    for row in rows:
        by_photo.setdefault(row.path, []).append(row)
    photos = list(by_photo.items())
    done = unreadable = 0
    yield ReembedProgress(0, len(rows))
    cancelled = False
    for start in range(0, len(photos), PHOTOS_PER_COMMIT):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        ids: list[int] = []
        crops: list[np.ndarray] = []
        for path, faces in photos[start:start + PHOTOS_PER_COMMIT]:
            try:
                if faces[0].status != PhotoStatus.OK:
                    raise OSError("the photo is missing or failed")
                crops.extend(stored_face_crops(path, [(f.x1, f.y1, f.x2, f.y2) for f in faces], settings))
                ids.extend(f.id for f in faces)
            except (OSError, ImageError):
                unreadable += len(faces)
        if ids:
            vectors = embedder.embed(np.stack(crops))
            with library.session() as session:
                for face_id, vector in zip(ids, vectors, strict=True):
                    session.execute(update(Face).where(Face.id == face_id)
                                    .values(embedding=vector, embedding_model=model))
                bump_faces_revision(session)
        done += sum(len(f) for _, f in photos[start:start + PHOTOS_PER_COMMIT])
        yield ReembedProgress(done, len(rows))
    yield ReembedFinished(ReembedSummary(model or "", done - unreadable, unreadable,
                                         time.monotonic() - started, cancelled))
