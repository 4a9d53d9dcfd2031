"""Undo puts back exactly what an operation changed."""

from __future__ import annotations

from sqlalchemy import select

from faceorganizer.people import operations as ops
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.people.undo import capture, restore
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Rejection
from tests.fakes import add_faces, faces_of, identities


def state(library: Library) -> tuple:
    with library.reader() as session:
        faces = sorted(session.execute(select(Face.id, Face.person_id, Face.state, Face.ignored)).all())
        people = sorted(session.execute(select(Person.id, Person.name, Person.hidden)).all())
        rejected = sorted(session.execute(select(Rejection.face_id, Rejection.person_id)).all())
    return faces, people, rejected


def test_every_operation_can_be_undone(library: Library) -> None:
    d = identities(3, seed=61)
    a = add_faces(library, faces_of(d[0], 4, seed=1))
    b = add_faces(library, faces_of(d[1], 3, seed=2))
    loner = add_faces(library, d[2:3])
    recluster(library, PeopleSettings())
    with library.reader() as session:
        pa, pb = (session.get(Face, x[0]).person_id for x in (a, b))
    operations = [
        (dict(people=[pa]), lambda: ops.rename(library, pa, "Ann")),
        (dict(people=[pb, pa]), lambda: ops.merge(library, pb, pa)),
        (dict(faces=[a[0]]), lambda: ops.reject(library, [a[0]])),
        (dict(faces=loner, people=[pa]), lambda: ops.move(library, loner, pa)),
        (dict(faces=loner), lambda: ops.create_person(library, loner, "Lone")),
        (dict(faces=a[:2]), lambda: ops.set_ignored(library, a[:2])),
        (dict(people=[pb]), lambda: ops.set_hidden(library, pb, True)),
        (dict(faces=[b[0]]), lambda: ops.confirm(library, [b[0]])),
    ]
    for touched, operation in operations:
        before = state(library)
        snapshot = capture(library, **touched)
        operation()
        assert state(library) != before
        restore(library, snapshot)
        assert state(library) == before
