"""Photo rows: what a scan needs to know about known files, marking missing ones, purging."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from faceorganizer.store.records import bump_faces_revision
from faceorganizer.store.roots import relative, under_prefix
from faceorganizer.store.schema import Claim, Face, Photo
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
    root_id: int | None = None
    rel: str = ""  # where it is in its root


_KNOWN = (Photo.id, Photo.size, Photo.mtime_ns, Photo.content_hash, Photo.status, Photo.error, Photo.sidecar,
          Photo.detector, Photo.root_id, Photo.rel)


def _known(row: Any) -> KnownPhoto:
    return KnownPhoto(row.id, row.size, row.mtime_ns, row.content_hash, row.status, row.error, row.sidecar,
                      row.detector, row.root_id, row.rel)


def photos_under(session: Session, folder: str, root: tuple[int, str]) -> dict[str, KnownPhoto]:
    """Every photo row inside ``folder``, a path on this machine inside ``root`` (its id, and
    where it is on this machine), by path. Read by the unique index of (root, path in the root),
    with the paths made here rather than by the database for each row."""
    root_id, root_path = root
    inside = relative(folder, root_path) if folder != root_path else ""
    query = select(*_KNOWN).where(Photo.root_id == root_id)
    if inside:
        query = query.where(under_prefix(Photo.rel, inside, "/"))
    base = root_path.rstrip(os.sep)
    local = (lambda rel: f"{base}/{rel}") if os.sep == "/" else (
        lambda rel: base + os.sep + rel.replace("/", os.sep))
    return {local(r.rel): _known(r) for r in session.execute(query)}


def current_rows(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], KnownPhoto]:
    """The rows of the files ``keys`` (root id, path in the root) as they are now."""
    out: dict[tuple[int, str], KnownPhoto] = {}
    for start in range(0, len(keys), 400):
        rows = session.execute(select(*_KNOWN).where(
            tuple_(Photo.root_id, Photo.rel).in_(keys[start:start + 400])))
        out.update(((r.root_id, r.rel), _known(r)) for r in rows)
    return out


def places_of(session: Session, ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """Where each of these photos is now: (root id, path in the root)."""
    out: dict[int, tuple[int | None, str]] = {}
    for start in range(0, len(ids), 500):
        out.update((i, (r, p)) for i, r, p in session.execute(
            select(Photo.id, Photo.root_id, Photo.rel).where(Photo.id.in_(ids[start:start + 500]))))
    return out


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


def mark_missing(session: Session, gone: dict[int, tuple[int | None, str]]) -> list[int]:
    """Mark these photos missing where each still is where it was not found (``gone``: id ->
    root id and path in the root): another scan running at once may have found one moved, or
    be taking it over. The ids marked."""
    where = places_of(session, list(gone))
    taken = {(c.root_id, c.rel) for c in session.scalars(select(Claim))} if gone else set()
    marked = [i for i, place in gone.items() if where.get(i) == place and place not in taken]
    for start in range(0, len(marked), 500):
        session.execute(update(Photo).where(Photo.id.in_(marked[start:start + 500]))
                        .values(status=PhotoStatus.MISSING))
    return marked


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
