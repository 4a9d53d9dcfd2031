"""What the user decides about people and faces. Each operation is one transaction.

Each is a :func:`~faceorganizer.people.undo.decision`: called as ``op(library, ...)``,
or ``op.undoable(library, ...)`` to get what it changed for undo. After each, the people
it touched are settled (``people.anchors``: a person left without faces goes, one no
longer known gives back its suggestions), in the same transaction. Every one bumps the
library's decision counter, so that a re-clustering planned before it does not
overwrite it (:mod:`faceorganizer.people.recluster`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.undo import decision
from faceorganizer.store.read import person_named
from faceorganizer.store.schema import Apart, Face, Person, Rejection
from faceorganizer.store.states import FaceState


class PeopleError(FaceorganizerError):
    """An operation that cannot be done (unknown person or face, empty name...)."""


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise PeopleError(f"There is no person {person_id} in this library.")
    return person


def _face(session: Session, face_id: int) -> Face:
    face = session.get(Face, face_id)
    if face is None:
        raise PeopleError(f"There is no face {face_id} in this library.")
    return face


def clean_name(name: str) -> str:
    """A name as it is kept: runs of white space as one space, none at the ends."""
    return " ".join(name.split())


def _clean_name(name: str) -> str:
    cleaned = clean_name(name)
    if not cleaned:
        raise PeopleError("A name cannot be empty.")
    return cleaned


@decision
def rename(session: Session, person_id: int, name: str) -> None:
    """Name or rename a person. Naming confirms the faces it holds (not its suggestions)."""
    person = _person(session, person_id)
    person.name = _clean_name(name)
    session.execute(update(Face).where(Face.person_id == person_id, Face.state == FaceState.AUTO)
                    .values(state=FaceState.CONFIRMED))


@decision
def create_person(session: Session, face_ids: Iterable[int], name: str | None = None) -> int:
    """A new person holding these faces (confirmed); its id."""
    faces = [_face(session, f) for f in face_ids]
    if not faces:
        raise PeopleError("A new person needs at least one face.")
    person = Person(name=_clean_name(name) if name is not None else None)
    session.add(person)
    session.flush()
    for face in faces:
        face.person_id, face.state, face.ignored = person.id, FaceState.CONFIRMED, False
    return person.id


@decision
def merge(session: Session, source_id: int, target_id: int) -> None:
    """Merge ``source`` into ``target``: its faces are confirmed there, its name is kept if
    ``target`` has none, what was rejected from it is rejected from ``target``, and the people
    it was said to be different from are different from ``target``. (Saying they are the same
    takes back an earlier "different" between the two.)"""
    if source_id == target_id:
        raise PeopleError("A person cannot be merged into itself.")
    source, target = _person(session, source_id), _person(session, target_id)
    moved = list(session.scalars(select(Face.id).where(Face.person_id == source_id)))
    session.execute(update(Face).where(Face.person_id == source_id, Face.state != FaceState.SUGGESTED)
                    .values(person_id=target_id, state=FaceState.CONFIRMED))
    session.execute(update(Face).where(Face.person_id == source_id)
                    .values(person_id=target_id))
    if moved:
        session.execute(delete(Rejection).where(Rejection.person_id == target_id,
                                                Rejection.face_id.in_(moved)))
    carried = [f for f in session.scalars(select(Rejection.face_id)
                                          .where(Rejection.person_id == source_id))
               if f not in moved]
    already = set(session.scalars(select(Rejection.face_id).where(Rejection.person_id == target_id)))
    # A face in ``target`` that was "not source" is not ``target`` either: it leaves, unless the
    # user confirmed it there (then that stands, and "not source" is not carried).
    held = {f: state for f, state in session.execute(
        select(Face.id, Face.state).where(Face.person_id == target_id, Face.id.in_(carried)))}
    confirmed = {f for f, state in held.items() if state == FaceState.CONFIRMED}
    leaving = [f for f in held if f not in confirmed]
    if leaving:
        session.execute(update(Face).where(Face.id.in_(leaving))
                        .values(person_id=None, state=FaceState.AUTO))
    session.add_all(Rejection(face_id=f, person_id=target_id) for f in carried
                    if f not in already and f not in confirmed)
    for other in _apart_from(session, source_id):
        if other != target_id:
            _put_apart(session, target_id, other)
    session.execute(delete(Apart).where(_pair(source_id, target_id)))
    if target.name is None and source.name is not None:
        target.name = source.name
    session.delete(source)


@decision
def move(session: Session, face_ids: Iterable[int], person_id: int) -> None:
    """Put faces into a person, confirmed (a rejection of them from it is forgiven)."""
    _move(session, face_ids, person_id)


@decision
def name_face(session: Session, face_id: int, name: str) -> int:
    """Give a face to the person of this name (the oldest, should several share it; a new
    person if there is none), confirmed; that person's id."""
    cleaned = _clean_name(name)
    _face(session, face_id)
    person_id = person_named(session, cleaned)
    if person_id is None:
        person = Person(name=cleaned)
        session.add(person)
        session.flush()
        person_id = person.id
    _move(session, [face_id], person_id)
    return person_id


def _move(session: Session, face_ids: Iterable[int], person_id: int) -> None:
    _person(session, person_id)
    for face_id in face_ids:
        face = _face(session, face_id)
        face.person_id, face.state, face.ignored = person_id, FaceState.CONFIRMED, False
        session.execute(delete(Rejection).where(Rejection.face_id == face_id,
                                                Rejection.person_id == person_id))


@decision
def reject(session: Session, face_ids: Iterable[int], person_id: int | None = None) -> None:
    """"Not this person": the faces leave their person and are never put or suggested there
    again. A face in no person needs ``person_id``: the person it is not ("is this face X?" —
    no); a face in a person may only name that person."""
    if person_id is not None:
        _person(session, person_id)
    for face_id in face_ids:
        face = _face(session, face_id)
        if face.person_id is None and person_id is None:
            raise PeopleError(f"Face {face_id} belongs to no person; say which person it is not.")
        if face.person_id is not None and person_id is not None and face.person_id != person_id:
            raise PeopleError(f"Face {face_id} is in person {face.person_id}, not {person_id}.")
        rejected = face.person_id if face.person_id is not None else person_id
        if session.get(Rejection, (face_id, rejected)) is None:
            session.add(Rejection(face_id=face_id, person_id=rejected))
        face.person_id, face.state = None, FaceState.AUTO


@decision
def confirm(session: Session, face_ids: Iterable[int]) -> int:
    """Confirm faces in the person they are in (suggestions become certain); how many changed."""
    changed = 0
    for face_id in face_ids:
        face = _face(session, face_id)
        if face.person_id is None:
            raise PeopleError(f"Face {face_id} belongs to no person; move it to one instead.")
        if face.state != FaceState.CONFIRMED:
            face.state = FaceState.CONFIRMED
            changed += 1
    return changed


@decision
def confirm_suggestions(session: Session, person_id: int) -> int:
    """Confirm every suggestion waiting on a person; how many."""
    _person(session, person_id)
    result = session.execute(update(Face).where(Face.person_id == person_id,
                                                Face.state == FaceState.SUGGESTED)
                             .values(state=FaceState.CONFIRMED))
    return int(getattr(result, "rowcount", 0) or 0)


@decision
def set_hidden(session: Session, person_id: int, hidden: bool) -> None:
    """Hide a person from the People list (or show it again); its faces stay with it."""
    _person(session, person_id).hidden = hidden


@decision
def set_ignored(session: Session, face_ids: Iterable[int], ignored: bool = True) -> None:
    """Mark faces as not faces (ignored everywhere: people, clustering, search), or undo it."""
    for face_id in face_ids:
        face = _face(session, face_id)
        face.ignored = ignored
        if ignored:
            face.person_id, face.state = None, FaceState.AUTO


def _pair(first: int, second: int) -> Any:
    low, high = sorted((first, second))
    return (Apart.person_id == low) & (Apart.other_id == high)


def _apart_from(session: Session, person_id: int) -> list[int]:
    """The people ``person_id`` was said to be different from."""
    rows = session.execute(select(Apart.person_id, Apart.other_id).where(
        (Apart.person_id == person_id) | (Apart.other_id == person_id))).all()
    return sorted({b if a == person_id else a for a, b in rows})


def _put_apart(session: Session, first: int, second: int) -> bool:
    low, high = sorted((first, second))
    if session.get(Apart, (low, high)) is not None:
        return False
    session.add(Apart(person_id=low, other_id=high))
    return True


@decision
def apart(session: Session, person_id: int, other_id: int) -> bool:
    """"These two are different people", for good: no scan or regrouping puts their faces
    together, and the pair is not asked about again. Both become people the user knows.
    False if it was already said."""
    if person_id == other_id:
        raise PeopleError("A person cannot be different from itself.")
    _person(session, person_id)
    _person(session, other_id)
    return _put_apart(session, person_id, other_id)


@decision
def forget_apart(session: Session, person_id: int, other_id: int) -> bool:
    """Take back "these two are different people"; False if it was never said."""
    result = session.execute(delete(Apart).where(_pair(person_id, other_id)))
    return bool(getattr(result, "rowcount", 0))
