"""What the desktop app shows: people with a cover face, faces of a person or photo,
folders and their photos. Read-only queries, each cheap enough for the GUI thread."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from faceorganizer.store.roots import under_prefix
from faceorganizer.store.schema import Face, Person, Photo, Root
from faceorganizer.store.states import FaceState, PhotoStatus


@dataclass(frozen=True)
class FaceSummary:
    id: int
    photo_id: int
    photo: str
    box: tuple[float, float, float, float]
    state: str
    person_id: int | None
    probability: float
    taken_at: datetime | None


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str | None
    hidden: bool
    faces: int
    suggestions: int
    cover: FaceSummary | None


def _face(row) -> FaceSummary:
    return FaceSummary(row.id, row.photo_id, row.path, (row.x1, row.y1, row.x2, row.y2), row.state,
                       row.person_id, row.probability, row.taken_at)


_FACE_COLUMNS = (Face.id, Face.photo_id, Photo.path, Face.x1, Face.y1, Face.x2, Face.y2, Face.state,
                 Face.person_id, Face.probability, Photo.taken_at)


def people(session: Session) -> list[PersonSummary]:
    """Every person with faces: counts, and a cover (their most certain, largest face)."""
    counts = session.execute(
        select(Face.person_id, func.count(Face.id),
               func.sum(case((Face.state == FaceState.SUGGESTED, 1), else_=0)))
        .where(Face.person_id.is_not(None), Face.ignored.is_(False))
        .group_by(Face.person_id)).all()
    if not counts:
        return []
    ranked = (select(*_FACE_COLUMNS, func.row_number().over(
        partition_by=Face.person_id,
        order_by=[case((Face.state == FaceState.SUGGESTED, 1), else_=0),
                  ((Face.x2 - Face.x1) * (Face.y2 - Face.y1) * Face.probability).desc()])
              .label("rank"))
              .join(Photo, Face.photo_id == Photo.id)
              .where(Face.person_id.is_not(None), Face.ignored.is_(False))).subquery()
    covers = {r.person_id: _face(r) for r in session.execute(select(ranked).where(ranked.c.rank == 1))}
    persons = {p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_([c[0] for c in counts])))}
    return [PersonSummary(pid, persons[pid].name, persons[pid].hidden, total, int(suggested or 0),
                          covers.get(pid))
            for pid, total, suggested in counts if pid in persons]


def person_faces(session: Session, person_id: int) -> list[FaceSummary]:
    """A person's faces: suggestions first, then by date taken and photo."""
    rows = session.execute(select(*_FACE_COLUMNS).join(Photo, Face.photo_id == Photo.id)
                           .where(Face.person_id == person_id, Face.ignored.is_(False))
                           .order_by(case((Face.state == FaceState.SUGGESTED, 0), else_=1),
                                     Photo.taken_at, Photo.path, Face.id))
    return [_face(r) for r in rows]


def unsorted_faces(session: Session) -> list[FaceSummary]:
    rows = session.execute(select(*_FACE_COLUMNS).join(Photo, Face.photo_id == Photo.id)
                           .where(Face.person_id.is_(None), Face.ignored.is_(False))
                           .order_by(Photo.path, Face.id))
    return [_face(r) for r in rows]


@dataclass(frozen=True)
class PhotoFace:
    face: FaceSummary
    name: str | None


def photo_faces(session: Session, photo_id: int) -> list[PhotoFace]:
    rows = session.execute(select(*_FACE_COLUMNS, Person.name)
                           .join(Photo, Face.photo_id == Photo.id)
                           .outerjoin(Person, Face.person_id == Person.id)
                           .where(Face.photo_id == photo_id, Face.ignored.is_(False))
                           .order_by(Face.x1))
    return [PhotoFace(_face(r), r.name) for r in rows]


@dataclass(frozen=True)
class FolderSummary:
    root_id: int
    path: str
    online: bool
    photos: int
    missing: int
    failed: int


def folders(session: Session) -> list[FolderSummary]:
    out = []
    for root in session.scalars(select(Root).order_by(Root.path)):
        counts = dict(session.execute(select(Photo.status, func.count()).where(
            under_prefix(Photo.path, root.path)).group_by(Photo.status)).all())
        out.append(FolderSummary(root.id, root.path, os.path.isdir(root.path),
                                 sum(counts.values()), counts.get(PhotoStatus.MISSING, 0),
                                 counts.get(PhotoStatus.FAILED, 0)))
    return out


@dataclass(frozen=True)
class PhotoSummary:
    id: int
    path: str
    status: str
    error: str | None
    taken_at: datetime | None
    width: int | None
    height: int | None
    faces: int


def _photos(session: Session, where: Any, order: tuple[Any, ...] = ()) -> list[PhotoSummary]:
    counts = (select(Face.photo_id, func.count(Face.id).label("n"))
              .where(Face.ignored.is_(False)).group_by(Face.photo_id).subquery())
    rows = session.execute(
        select(Photo.id, Photo.path, Photo.status, Photo.error, Photo.taken_at, Photo.width,
               Photo.height, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.photo_id == Photo.id).where(where).order_by(*order))
    return [PhotoSummary(*r) for r in rows]


def photos_in(session: Session, folder: str) -> list[PhotoSummary]:
    """Photos inside ``folder`` (recursively), by date taken then path."""
    return _photos(session, under_prefix(Photo.path, folder), (Photo.taken_at, Photo.path))


def photos_by_id(session: Session, ids: list[int]) -> dict[int, PhotoSummary]:
    """These photos, by id, in one query (missing ids are left out)."""
    return {p.id: p for p in _photos(session, Photo.id.in_(ids))}


def photo(session: Session, photo_id: int) -> PhotoSummary | None:
    row = session.get(Photo, photo_id)
    if row is None:
        return None
    faces = session.scalar(select(func.count(Face.id)).where(Face.photo_id == row.id,
                                                             Face.ignored.is_(False))) or 0
    return PhotoSummary(row.id, row.path, row.status, row.error, row.taken_at, row.width, row.height,
                        faces)
