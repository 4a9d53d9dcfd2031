"""Photo rows: what a scan needs to know about known files, marking missing ones, purging."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from faceorganizer.store.records import bump_faces_revision
from faceorganizer.store.roots import under_prefix
from faceorganizer.store.schema import Face, Photo
from faceorganizer.store.states import PhotoStatus


@dataclass(frozen=True)
class KnownPhoto:
    """What the scanner compares a file against."""

    id: int
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    error: str | None = None  # why it failed (kept while it is missing)
    sidecar: str | None = None  # the key of the XMP sidecar read with it
    detector: str | None = None  # the face detector that analysed it


def photos_under(session: Session, folder: str) -> dict[str, KnownPhoto]:
    """Every photo row inside ``folder``, by path."""
    rows = session.execute(
        select(Photo.path, Photo.id, Photo.size, Photo.mtime_ns, Photo.content_hash, Photo.status,
               Photo.error, Photo.sidecar, Photo.detector)
        .where(under_prefix(Photo.path, folder)))
    return {r.path: KnownPhoto(r.id, r.size, r.mtime_ns, r.content_hash, r.status, r.error, r.sidecar,
                               r.detector) for r in rows}


def missing_by_hash(session: Session) -> dict[str, list[int]]:
    """Analysed photos already marked missing, by content hash: where moved files may have gone.
    A photo that failed is no candidate: its faces were never found, so a file with its
    content elsewhere is read like a new one."""
    found: dict[str, list[int]] = {}
    rows = session.execute(select(Photo.content_hash, Photo.id)
                           .where(Photo.status == PhotoStatus.MISSING, Photo.content_hash.is_not(None),
                                  Photo.error.is_(None)))
    for content_hash, photo_id in rows:
        if content_hash is not None:
            found.setdefault(content_hash, []).append(photo_id)
    return found


def content_hashes(session: Session, ids: list[int]) -> list[tuple[str, int]]:
    """(content hash, id) of these photos where a hash is known and the photo was analysed."""
    out: list[tuple[str, int]] = []
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Photo.content_hash, Photo.id).where(
            Photo.id.in_(ids[start:start + 500]), Photo.content_hash.is_not(None),
            Photo.error.is_(None)))
        out.extend((h, i) for h, i in rows if h is not None)
    return out


def mark_missing(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        session.execute(update(Photo).where(Photo.id.in_(ids[start:start + 500]))
                        .values(status=PhotoStatus.MISSING))


def purge_missing(session: Session) -> tuple[int, int]:
    """Delete photos marked missing and their faces; (photos, faces) deleted."""
    ids = list(session.scalars(select(Photo.id).where(Photo.status == PhotoStatus.MISSING)))
    faces = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        faces += session.scalar(select(func.count(Face.id)).where(Face.photo_id.in_(chunk))) or 0
        session.execute(delete(Face).where(Face.photo_id.in_(chunk)))
        session.execute(delete(Photo).where(Photo.id.in_(chunk)))
    if faces:
        bump_faces_revision(session)
    return len(ids), faces
