"""Undo puts back exactly what a decision changed, whatever it touched; redo makes it again."""

from __future__ import annotations

from sqlalchemy import select

from faceorganizer.people import operations as ops
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.people.undo import PARTS, redo, undo
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Rejection
from tests.fakes import add_faces, faces_of, identities


def state(library: Library) -> tuple:
    with library.reader() as session:
        faces = sorted(session.execute(select(Face.id, Face.person_id, Face.state, Face.ignored)).all())
        people = sorted(session.execute(select(Person.id, Person.name, Person.hidden)).all())
        rejected = sorted(session.execute(select(Rejection.face_id, Rejection.person_id)).all())
    return faces, people, rejected


def test_every_operation_can_be_undone_and_redone(library: Library) -> None:
    d = identities(3, seed=61)
    a = add_faces(library, faces_of(d[0], 4, seed=1))
    b = add_faces(library, faces_of(d[1], 3, seed=2))
    loner = add_faces(library, d[2:3])
    recluster(library, PeopleSettings())
    with library.reader() as session:
        pa, pb = (session.get(Face, x[0]).person_id for x in (a, b))
    operations = [
        (ops.rename, (pa, "Ann")),
        (ops.merge, (pb, pa)),
        (ops.reject, ([a[0]],)),
        (ops.move, (loner, pa)),
        (ops.create_person, (loner, "Lone")),
        (ops.set_ignored, (a[:2],)),
        (ops.set_hidden, (pa, True)),
        (ops.confirm, ([a[3]],)),
    ]
    for operation, args in operations:
        before = state(library)
        _, change = operation.undoable(library, *args)
        after = state(library)
        assert after != before and change
        undo(library, change)
        assert state(library) == before, operation
        redo(library, change)
        assert state(library) == after, operation
        undo(library, change)
        assert state(library) == before


def test_undo_of_a_merge_restores_rejections_of_faces_it_did_not_move(library: Library) -> None:
    """Issue 9 item 2: a face rejected from the source person (and no longer in it) had its
    rejection moved to the target by the merge and the source's cascaded away; undo must
    give back exactly (face, source) and take away (face, target)."""
    d = identities(3, seed=5)
    a = add_faces(library, faces_of(d[0], 3, seed=1))
    b = add_faces(library, faces_of(d[1], 3, seed=2))
    recluster(library, PeopleSettings())
    with library.reader() as session:
        pa, pb = (session.get(Face, x[0]).person_id for x in (a, b))
    ops.reject(library, [b[0]])  # face b0 is not person pb: it leaves pb
    before = state(library)
    assert (b[0], pb) in before[2]
    _, change = ops.merge.undoable(library, pb, pa)
    merged = state(library)
    assert (b[0], pa) in merged[2] and not any(p == pb for _, p in merged[2])
    undo(library, change)
    assert state(library) == before


def test_undo_never_points_a_face_at_a_person_that_is_gone(library: Library) -> None:
    d = identities(2, seed=9)
    a = add_faces(library, faces_of(d[0], 4, seed=1))
    recluster(library, PeopleSettings())
    with library.reader() as session:
        pa = session.get(Face, a[0]).person_id
    new, change = ops.create_person.undoable(library, [a[0]])
    with library.session() as session:  # say a regrouping dropped the old person meanwhile
        for face in session.scalars(select(Face).where(Face.person_id == pa)):
            face.person_id = None
        session.delete(session.get(Person, pa))
    undo(library, change)
    with library.reader() as session:
        face = session.get(Face, a[0])
        assert (face.person_id, face.state) == (None, "auto")
        assert session.get(Person, new) is None


def test_undo_captures_every_decision_table_and_column_of_the_schema() -> None:
    captured = {p.table.name: {c.name for c in p.values} for p in PARTS}
    assert captured == {"people": {"name", "hidden", "created_at"},
                        "faces": {"person_id", "state", "ignored"},
                        "rejections": {"created_at"}, "apart": {"created_at"}}
