"""Edges found by the stateful test (tests/test_decisions_stateful.py), each as a plain test."""

from __future__ import annotations

from sqlalchemy import select

from faceorganizer.people import operations as ops
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.people.undo import undo
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Rejection
from faceorganizer.store.states import FaceState
from tests.fakes import add_faces, faces_of, identities


def two_faces_of_one_person(library: Library) -> tuple[list[int], int]:
    faces = add_faces(library, faces_of(identities(1, seed=3)[0], 2, seed=1))
    recluster(library, PeopleSettings())
    with library.reader() as session:
        person = session.get(Face, faces[0]).person_id
        assert person is not None and person == session.get(Face, faces[1]).person_id
    return faces, person


def rows(library: Library) -> tuple:
    with library.reader() as session:
        return (sorted(session.execute(select(Face.id, Face.person_id, Face.state)).all()),
                sorted(session.execute(select(Rejection.face_id, Rejection.person_id)).all()),
                sorted(session.scalars(select(Person.id))))


def test_a_rejection_survives_regrouping(library: Library) -> None:
    """Reject a face from a group of two, regroup twice: the group dissolved (one face is too
    few), the person was dropped and the rejection went with it, so the face rejoined the
    very face it had been taken from. A person you took a face out of is one you know."""
    faces, person = two_faces_of_one_person(library)
    ops.reject(library, [faces[0]])
    after = rows(library)
    assert (faces[0], person) in after[1]
    for _ in range(2):
        recluster(library, PeopleSettings())
        assert rows(library) == after


def test_undo_of_a_new_person_leaves_no_suggestion_without_a_person(library: Library) -> None:
    """A face moved to a new person; a regroup suggested its twin for that person; undo took the
    new person away, and the twin kept state 'suggested' with no person at all."""
    faces, _ = two_faces_of_one_person(library)
    _, change = ops.create_person.undoable(library, [faces[0]])
    recluster(library, PeopleSettings())
    with library.reader() as session:
        assert session.get(Face, faces[1]).state == FaceState.SUGGESTED
    undo(library, change)
    with library.reader() as session:
        for face in faces:
            row = session.get(Face, face)
            assert (row.person_id, row.state) == (None, FaceState.AUTO), face


def test_a_person_left_with_only_suggestions_is_no_person(library: Library) -> None:
    """The person's own faces left (to a new person); only a suggestion waited on it, for a
    person the user never knew. The suggestion goes back to the unsorted faces."""
    faces, _ = two_faces_of_one_person(library)
    first = ops.create_person(library, [faces[0]])
    recluster(library, PeopleSettings())  # faces[1] is suggested for the new person
    ops.create_person(library, [faces[0]])  # and its face moves on again
    with library.reader() as session:
        assert session.get(Person, first) is None
        row = session.get(Face, faces[1])
        assert (row.person_id, row.state) == (None, FaceState.AUTO)


def test_suggestions_leave_a_person_the_user_no_longer_knows(library: Library) -> None:
    """A face was suggested for a person known by one confirmed face; that face was moved to a
    new person, so the person is an automatic group again, and a suggestion (a question about
    someone the user knows) waited on it."""
    faces = add_faces(library, faces_of(identities(1, seed=3)[0], 6, seed=1))
    recluster(library, PeopleSettings())
    with library.reader() as session:
        person = session.get(Face, faces[0]).person_id
    ops.confirm(library, [faces[5]])
    ops.reject(library, [faces[0]])  # faces[0] leaves; person stays known (confirmed face)
    ops.move(library, [faces[0]], person)  # back, confirmed: the rejection is forgiven
    ops.create_person(library, [faces[0]])  # and out again to a person of its own
    with library.session() as session:  # as a regrouping would: faces[1] suggested for person
        row = session.get(Face, faces[1])
        row.person_id, row.state = person, FaceState.SUGGESTED
    ops.create_person(library, [faces[5]])  # its last confirmed face leaves
    with library.reader() as session:
        row = session.get(Face, faces[1])
        assert (row.person_id, row.state) == (None, FaceState.AUTO)
        assert {f.state for f in session.scalars(select(Face).where(Face.person_id == person))} == {
            FaceState.AUTO}


def test_showing_a_hidden_unknown_person_again_takes_its_suggestions_back(library: Library) -> None:
    faces = add_faces(library, faces_of(identities(1, seed=4)[0], 3, seed=1))
    recluster(library, PeopleSettings())
    with library.reader() as session:
        person = session.get(Face, faces[0]).person_id
    ops.set_hidden(library, person, True)
    with library.session() as session:
        row = session.get(Face, faces[2])
        row.state = FaceState.SUGGESTED
    ops.set_hidden(library, person, False)
    with library.reader() as session:
        row = session.get(Face, faces[2])
        assert (row.person_id, row.state) == (None, FaceState.AUTO)


def test_undo_that_leaves_a_person_unknown_takes_its_suggestions_back(library: Library) -> None:
    """Confirm a face (the person becomes known), a scan suggests a new face for it, undo the
    confirmation: the person is an automatic group again and the suggestion waited on it."""
    d = identities(1, seed=5)[0]
    faces = add_faces(library, faces_of(d, 2, seed=1))
    recluster(library, PeopleSettings())
    _, change = ops.confirm.undoable(library, [faces[0]])
    late = add_faces(library, faces_of(d, 1, seed=9))[0]  # a scan finds one more
    recluster(library, PeopleSettings(), only_if_stale=True)
    with library.reader() as session:
        person = session.get(Face, faces[0]).person_id
        assert (session.get(Face, late).person_id, session.get(Face, late).state) == (
            person, FaceState.SUGGESTED)
    undo(library, change)
    with library.reader() as session:
        row = session.get(Face, late)
        assert (row.person_id, row.state) == (None, FaceState.AUTO)
        assert session.get(Face, faces[0]).state == FaceState.AUTO


def test_a_merge_never_leaves_a_face_in_a_person_it_was_rejected_from(library: Library) -> None:
    """Face f was taken out of S ("not S"); a regroup suggested f for T; the user said S and T
    are the same (merge S into T), which carried "not S" over to T while f still waited on T
    as a suggestion: a face in a person it is not, asked about again (found by the stateful
    test's check that no open question was answered). "Not S" now takes f out of T, unless
    the user confirmed f in T (then the confirmation stands)."""
    base = identities(1, seed=4)[0]
    f = add_faces(library, faces_of(base, 1, seed=1))[0]
    t_faces = add_faces(library, faces_of(base, 3, seed=2))
    s_faces = add_faces(library, faces_of(base, 2, seed=3))
    s = ops.create_person(library, [f, *s_faces])
    ops.reject(library, [f])
    t = ops.create_person(library, t_faces, "T")
    confirmed = add_faces(library, faces_of(base, 1, seed=4))[0]
    ops.create_person(library, [confirmed])
    ops.reject(library, [confirmed])  # not that one...
    recluster(library, PeopleSettings())
    with library.reader() as session:
        assert (session.get(Face, f).person_id, session.get(Face, f).state) == (t, FaceState.SUGGESTED)
    ops.move(library, [confirmed], t)  # ...but confirmed in T
    with library.session() as session:  # and "not S" too (as a merge of its old person would carry)
        session.add(Rejection(face_id=confirmed, person_id=s))
    ops.merge(library, s, t)
    with library.reader() as session:
        row = session.get(Face, f)
        assert (row.person_id, row.state) == (None, FaceState.AUTO)
        assert session.get(Rejection, (f, t)) is not None
        kept = session.get(Face, confirmed)
        assert (kept.person_id, kept.state) == (t, FaceState.CONFIRMED)
        assert session.get(Rejection, (confirmed, t)) is None
        held = {(a, b) for a, b in session.execute(select(Face.id, Face.person_id))}
        rejected = {(a, b) for a, b in session.execute(select(Rejection.face_id, Rejection.person_id))}
    assert not held & rejected
