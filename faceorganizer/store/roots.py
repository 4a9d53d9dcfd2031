"""Scan roots: the folders a user has added to the library."""

from __future__ import annotations

import os

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from faceorganizer.store.schema import Face, Photo, Root


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it (plain string paths, absolute)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def under_prefix(column: InstrumentedAttribute[str], folder: str) -> ColumnElement[bool]:
    """An index-friendly SQL condition: ``column`` is a path inside ``folder``."""
    prefix = folder.rstrip(os.sep) + os.sep
    return (column >= prefix) & (column < prefix[:-1] + chr(ord(os.sep) + 1))


def ensure_root(session: Session, folder: str) -> Root:
    """The root that holds ``folder``; a new one if none does (taking over roots inside it)."""
    roots = session.scalars(select(Root)).all()
    for root in roots:
        if is_within(folder, root.path):
            return root
    root = Root(path=folder)
    session.add(root)
    session.flush()
    for inner in roots:
        if is_within(inner.path, folder):
            session.execute(update(Photo).where(Photo.root_id == inner.id).values(root_id=root.id))
            session.delete(inner)
    session.flush()
    return root


def list_roots(session: Session) -> list[Root]:
    return list(session.scalars(select(Root).order_by(Root.path)))


def remove_root(session: Session, root_id: int) -> int:
    """Forget a folder: its photos and their faces go from the library (not from the disk).
    Returns how many photos were forgotten."""
    from faceorganizer.store.records import bump_faces_revision

    root = session.get(Root, root_id)
    if root is None:
        return 0
    photos = list(session.scalars(select(Photo.id).where(
        (Photo.root_id == root_id) | under_prefix(Photo.path, root.path))))
    for start in range(0, len(photos), 500):
        chunk = photos[start:start + 500]
        session.execute(delete(Face).where(Face.photo_id.in_(chunk)))
        session.execute(delete(Photo).where(Photo.id.in_(chunk)))
    session.delete(root)
    bump_faces_revision(session)
    return len(photos)
