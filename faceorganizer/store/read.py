"""What the library holds, as the command line and the window show it: one read layer.

Read-only queries returning small frozen rows (no SQLAlchemy objects leave here), each
cheap enough for the GUI thread. ``faceorganizer photos|faces|people --json`` and the
window's pages are built from the same functions, so they always agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from faceorganizer.store.roots import places, under_prefix
from faceorganizer.store.schema import Face, Person, Photo
from faceorganizer.store.states import FaceOrigin, FaceState, PersonState, PhotoStatus

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceSummary:
    id: int
    photo_id: int
    photo: str  # the photo's absolute path
    box: Box  # in the pixels of the photo as a person sees it
    state: FaceState
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
    cover: FaceSummary | None  # the most certain, largest face

    @property
    def state(self) -> PersonState:
        return PersonState.of(self.name, self.hidden)


@dataclass(frozen=True)
class PersonFaces:
    person: PersonSummary
    faces: list[FaceSummary]

    @property
    def id(self) -> int:
        return self.person.id

    @property
    def name(self) -> str | None:
        return self.person.name

    @property
    def hidden(self) -> bool:
        return self.person.hidden

    @property
    def suggestions(self) -> int:
        return self.person.suggestions


@dataclass(frozen=True)
class PhotoFace:
    face: FaceSummary
    name: str | None


@dataclass(frozen=True)
class PhotoSummary:
    id: int
    path: str
    status: PhotoStatus
    error: str | None
    taken_at: datetime | None
    width: int | None
    height: int | None
    faces: int  # faces not marked as not a face


@dataclass(frozen=True)
class FolderSummary:
    root_id: int
    path: str  # where it is on this machine (where it was added, if not mapped here)
    online: bool  # there on this machine
    photos: int
    missing: int
    failed: int
    mapped: bool = True  # False: a server's library, and this machine has not said where it is


@dataclass(frozen=True)
class Counts:
    people: int  # people with faces
    named: int
    unsorted: int  # faces in no person


# ---- faces -----------------------------------------------------------------------------

_FACE_COLUMNS = (Face.id, Face.photo_id, Photo.path, Face.x1, Face.y1, Face.x2, Face.y2, Face.state,
                 Face.person_id, Face.probability, Photo.taken_at)
_SHOWN = Face.ignored.is_(False)  # faces marked as not a face are shown nowhere


def _face(row: Any) -> FaceSummary:
    return FaceSummary(row.id, row.photo_id, row.path, (row.x1, row.y1, row.x2, row.y2),
                       FaceState(row.state), row.person_id, row.probability, row.taken_at)


def _faces(session: Session, where: Any, order: Iterable[Any],
           limit: int | None = None) -> list[FaceSummary]:
    query = (select(*_FACE_COLUMNS).join(Photo, Face.photo_id == Photo.id)
             .where(_SHOWN, where).order_by(*order))
    return [_face(r) for r in session.execute(query if limit is None else query.limit(limit))]


def faces(session: Session) -> list[FaceSummary]:
    """Every face (except those marked as not a face), by photo path."""
    return _faces(session, True, (Photo.path, Face.id))


def face(session: Session, face_id: int) -> FaceSummary | None:
    found = _faces(session, Face.id == face_id, ())
    return found[0] if found else None


def person_faces(session: Session, person_id: int) -> list[FaceSummary]:
    """A person's faces: suggestions first, then by date taken and photo."""
    return _faces(session, Face.person_id == person_id,
                  (case((Face.state == FaceState.SUGGESTED, 0), else_=1), Photo.taken_at, Photo.path,
                   Face.id))


def unsorted_faces(session: Session) -> list[FaceSummary]:
    """Faces that belong to no person, by photo."""
    return _faces(session, Face.person_id.is_(None), (Photo.path, Face.id))


def photo_faces(session: Session, photo_id: int) -> list[PhotoFace]:
    """A photo's faces from left to right, with the names of their people."""
    rows = session.execute(select(*_FACE_COLUMNS, Person.name)
                           .join(Photo, Face.photo_id == Photo.id)
                           .outerjoin(Person, Face.person_id == Person.id)
                           .where(Face.photo_id == photo_id, _SHOWN)
                           .order_by(Face.x1))
    return [PhotoFace(_face(r), r.name) for r in rows]


def face_count(session: Session) -> int:
    """All faces, marked or not (what a re-embedding has to go through)."""
    return int(session.scalar(select(func.count(Face.id))) or 0)


# ---- people ----------------------------------------------------------------------------

# A person's cover: a confirmed or automatic face before a suggestion, then the largest, surest.
_COVER_ORDER = (case((Face.state == FaceState.SUGGESTED, 1), else_=0),
                ((Face.x2 - Face.x1) * (Face.y2 - Face.y1) * Face.probability).desc(), Face.id)


def people(session: Session) -> list[PersonSummary]:
    """Every person with faces: counts and a cover (their most certain, largest face), by id."""
    counts = session.execute(
        select(Face.person_id, func.count(Face.id),
               func.sum(case((Face.state == FaceState.SUGGESTED, 1), else_=0)))
        .where(Face.person_id.is_not(None), _SHOWN)
        .group_by(Face.person_id).order_by(Face.person_id)).all()
    if not counts:
        return []
    ranked = (select(*_FACE_COLUMNS, func.row_number().over(
        partition_by=Face.person_id,
        order_by=list(_COVER_ORDER))
              .label("rank"))
              .join(Photo, Face.photo_id == Photo.id)
              .where(Face.person_id.is_not(None), _SHOWN)).subquery()
    covers = {r.person_id: _face(r) for r in session.execute(select(ranked).where(ranked.c.rank == 1))}
    persons = {p.id: p for p in session.execute(select(Person.id, Person.name, Person.hidden))}
    return [PersonSummary(pid, persons[pid].name, bool(persons[pid].hidden), total, int(suggested or 0),
                          covers.get(pid))
            for pid, total, suggested in counts if pid in persons]


def person(session: Session, person_id: int) -> PersonSummary | None:
    """One person, with or without faces (None if there is no such person)."""
    row = session.execute(select(Person.id, Person.name, Person.hidden)
                          .where(Person.id == person_id)).one_or_none()
    if row is None:
        return None
    total, suggested = session.execute(
        select(func.count(Face.id), func.sum(case((Face.state == FaceState.SUGGESTED, 1), else_=0)))
        .where(Face.person_id == person_id, _SHOWN)).one()
    cover = _faces(session, Face.person_id == person_id, _COVER_ORDER, limit=1)
    return PersonSummary(row.id, row.name, bool(row.hidden), int(total or 0), int(suggested or 0),
                         cover[0] if cover else None)


def people_and_faces(session: Session) -> list[PersonFaces]:
    """Every person with faces and all their faces (by photo), named people by name first,
    then unnamed ones, largest first: what ``faceorganizer people`` lists."""
    summaries = {p.id: p for p in people(session)}
    grouped: dict[int, list[FaceSummary]] = {}
    for f in _faces(session, Face.person_id.is_not(None), (Face.person_id, Photo.path, Face.id)):
        assert f.person_id is not None
        grouped.setdefault(f.person_id, []).append(f)
    found = [PersonFaces(summaries[pid], rows) for pid, rows in grouped.items() if pid in summaries]
    return sorted(found, key=lambda p: (p.person.name is None, (p.person.name or "").casefold(),
                                        -len(p.faces), p.person.id))


def counts(session: Session) -> Counts:
    """How many people (with faces), named ones, and unsorted faces there are."""
    with_faces = select(Face.person_id).where(Face.person_id.is_not(None), _SHOWN).distinct().subquery()
    total = session.scalar(select(func.count()).select_from(with_faces)) or 0
    named = session.scalar(select(func.count(Person.id)).where(
        Person.name.is_not(None), Person.id.in_(select(with_faces.c.person_id)))) or 0
    unsorted = session.scalar(select(func.count(Face.id)).where(Face.person_id.is_(None), _SHOWN)) or 0
    return Counts(int(total), int(named), int(unsorted))


# ---- photos and folders ----------------------------------------------------------------


def _photos(session: Session, where: Any, order: Iterable[Any] = ()) -> list[PhotoSummary]:
    shown = (select(Face.photo_id, func.count(Face.id).label("n"))
             .where(_SHOWN).group_by(Face.photo_id).subquery())
    rows = session.execute(
        select(Photo.id, Photo.path, Photo.status, Photo.error, Photo.taken_at, Photo.width,
               Photo.height, func.coalesce(shown.c.n, 0))
        .outerjoin(shown, shown.c.photo_id == Photo.id).where(where).order_by(*order))
    return [PhotoSummary(r[0], r[1], PhotoStatus(r[2]), *r[3:]) for r in rows]


def photos(session: Session, status: PhotoStatus | None = None) -> list[PhotoSummary]:
    """Every photo (or those with ``status``), by path."""
    return _photos(session, True if status is None else Photo.status == status, (Photo.path,))


def photos_in(session: Session, folder: str) -> list[PhotoSummary]:
    """Photos inside ``folder`` (recursively), by date taken then path."""
    return _photos(session, under_prefix(Photo.path, folder), (Photo.taken_at, Photo.path))


def photos_by_id(session: Session, ids: list[int]) -> dict[int, PhotoSummary]:
    """These photos, by id, in one query (missing ids are left out)."""
    found: dict[int, PhotoSummary] = {}
    for start in range(0, len(ids), 500):
        found.update((p.id, p) for p in _photos(session, Photo.id.in_(ids[start:start + 500])))
    return found


def photo(session: Session, photo_id: int) -> PhotoSummary | None:
    found = _photos(session, Photo.id == photo_id)
    return found[0] if found else None


def status_counts(session: Session) -> dict[PhotoStatus, int]:
    rows = session.execute(select(Photo.status, func.count()).group_by(Photo.status))
    return {PhotoStatus(status): count for status, count in rows}


def folders(session: Session, *, shared: bool = False) -> list[FolderSummary]:
    """The scanned folders with their photo counts; ``online`` when the folder is there on this
    machine (``shared``: the library is on a server, where a folder must be mapped first)."""
    counts: dict[int, dict[str, int]] = {}
    for root_id, status, count in session.execute(select(Photo.root_id, Photo.status, func.count())
                                                  .group_by(Photo.root_id, Photo.status)):
        if root_id is not None:
            counts.setdefault(root_id, {})[status] = count
    out = []
    for place in sorted(places(session, shared=shared), key=lambda p: (p.path or p.added_path, p.id)):
        by_status = counts.get(place.id, {})
        out.append(FolderSummary(place.id, place.path or place.added_path,
                                 place.path is not None and os.path.isdir(place.path),
                                 sum(by_status.values()), by_status.get(PhotoStatus.MISSING, 0),
                                 by_status.get(PhotoStatus.FAILED, 0), mapped=place.path is not None))
    return out


# ---- drawn faces, names written to files -----------------------------------------------


def photo_warning(session: Session, photo_id: int) -> str | None:
    """What was wrong with the photo's face regions (XMP), one line per problem; None if nothing."""
    return session.scalar(select(Photo.warning).where(Photo.id == photo_id))


def face_origins(session: Session, photo_id: int) -> dict[int, FaceOrigin]:
    """Where each face of a photo came from (detected, read from a file, drawn), by face id."""
    rows = session.execute(select(Face.id, Face.origin).where(Face.photo_id == photo_id))
    return {face_id: FaceOrigin(origin) for face_id, origin in rows}


def person_named(session: Session, name: str) -> int | None:
    """The id of the person with exactly this name (the oldest, should several share it)."""
    return session.scalar(select(Person.id).where(Person.name == name).order_by(Person.id).limit(1))


def person_names(session: Session) -> list[str]:
    """Every person's name, once each, in alphabetical order (for completing a name)."""
    names = session.scalars(select(Person.name).where(Person.name.is_not(None)).distinct())
    return sorted((n for n in names if n), key=str.casefold)


def photos_of(session: Session, faces: Iterable[int] = (), people: Iterable[int] = ()) -> set[int]:
    """The ids of the photos of these faces, and of every face of these people."""
    found: set[int] = set()
    for column, ids in ((Face.id, list(faces)), (Face.person_id, list(people))):
        for start in range(0, len(ids), 500):
            found.update(session.scalars(select(Face.photo_id).where(column.in_(ids[start:start + 500]))))
    return found


def photos_of_rows(session: Session, rows: Mapping[str, Iterable[tuple[Any, ...]]]) -> set[int]:
    """The photos that changed rows concern, given as {table name: primary keys} (as an undo
    ``Change`` holds them): those of the faces, and of every face of the people (a person's
    row changes with their name, or when they are hidden, made or merged away). Rows of
    other tables concern no photo."""
    return photos_of(session, [key[0] for key in rows.get(Face.__tablename__, ())],
                     [key[0] for key in rows.get(Person.__tablename__, ())])


def named_photo_count(session: Session) -> int:
    """How many photos (there and readable) have faces of named people who are not hidden:
    those whose names ``write-tags`` writes."""
    return int(session.scalar(
        select(func.count(func.distinct(Face.photo_id))).join(Photo, Face.photo_id == Photo.id)
        .join(Person, Face.person_id == Person.id)
        .where(_SHOWN, Photo.status == PhotoStatus.OK, Person.name.is_not(None),
               Person.hidden.is_(False))) or 0)
