"""Undo for the user's decisions: a snapshot of the rows an operation touches, restored
in one transaction.

The desktop app takes a snapshot of the faces and people an operation is about to
change, runs it, and keeps the snapshot; "Undo" puts those rows back as they were
(people an operation deleted come back with their ids, people it created and that
are left without faces go).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from faceorganizer.store import Library
from faceorganizer.store.people import bump_revision
from faceorganizer.store.schema import Face, Person, Rejection
from faceorganizer.store.states import FaceState


@dataclass(frozen=True)
class Snapshot:
    faces: tuple[tuple[int, int | None, str, bool], ...]
    people: tuple[tuple[int, str | None, bool, datetime], ...]
    rejections: tuple[tuple[int, int], ...]


def capture(library: Library, *, faces: Iterable[int] = (), people: Iterable[int] = ()) -> Snapshot:
    """The state of these faces, these people and all faces of these people."""
    person_ids = set(people)
    with library.reader() as session:
        face_ids = set(faces) | set(session.scalars(select(Face.id).where(
            Face.person_id.in_(person_ids))))
        rows = session.execute(select(Face.id, Face.person_id, Face.state, Face.ignored)
                               .where(Face.id.in_(face_ids))).all()
        person_ids |= {r.person_id for r in rows if r.person_id is not None}
        persons = session.execute(select(Person.id, Person.name, Person.hidden, Person.created_at)
                                  .where(Person.id.in_(person_ids))).all()
        rejected = session.execute(select(Rejection.face_id, Rejection.person_id)
                                   .where(Rejection.face_id.in_(face_ids))).all()
    return Snapshot(tuple((r.id, r.person_id, r.state, r.ignored) for r in rows),
                    tuple((p.id, p.name, p.hidden, p.created_at) for p in persons),
                    tuple((r.face_id, r.person_id) for r in rejected))


def restore(library: Library, snapshot: Snapshot) -> None:
    """Put the captured rows back as they were."""
    with library.session() as session:
        for pid, name, hidden, created in snapshot.people:
            person = session.get(Person, pid)
            if person is None:
                session.add(Person(id=pid, name=name, hidden=hidden, created_at=created))
            else:
                person.name, person.hidden = name, hidden
        session.flush()
        touched: set[int] = set()
        for fid, owner, state, ignored in snapshot.faces:
            face = session.get(Face, fid)
            if face is None:
                continue  # the photo was purged meanwhile
            if face.person_id is not None:
                touched.add(face.person_id)
            face.person_id, face.state, face.ignored = owner, FaceState(state), ignored
        face_ids = [f[0] for f in snapshot.faces]
        session.execute(delete(Rejection).where(Rejection.face_id.in_(face_ids)))
        session.add_all(Rejection(face_id=f, person_id=p) for f, p in snapshot.rejections
                        if session.get(Person, p) is not None)
        session.flush()
        known = {p[0] for p in snapshot.people}
        for pid in touched - known:  # created by the undone operation
            person = session.get(Person, pid)
            if person is not None and session.scalar(select(Face.id).where(
                    Face.person_id == pid).limit(1)) is None:
                session.delete(person)
        bump_revision(session)
