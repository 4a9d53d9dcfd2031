"""Who the user knows, and what a person may hold once a decision (or its undo) has changed it.

A person the user knows is an *anchor*: named, hidden, with a confirmed face, with a face
taken out of it ("not this person"), or said to be different from another person ("apart").
Suggestions are questions about an anchor ("is this face X?"); an unnamed person left
without faces is no person at all. :func:`settle` puts a person back in that shape after
anything changed it: every decision runs it on the people it touched, inside its own
transaction, and so do undo and redo (``people.undo``); the regrouping keeps the same rule
for the people it plans (``people.recluster.anchors``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from faceorganizer.store.schema import Apart, Face, Person, Rejection
from faceorganizer.store.states import FaceState


def is_known(session: Session, person: Person, states: set[FaceState]) -> bool:
    """Whether the user knows ``person`` (whose faces are in ``states``)."""
    return (person.name is not None or person.hidden or FaceState.CONFIRMED in states
            or session.scalar(select(Rejection.face_id).where(Rejection.person_id == person.id)
                              .limit(1)) is not None
            or session.scalar(select(Apart.person_id).where(
                (Apart.person_id == person.id) | (Apart.other_id == person.id)).limit(1)) is not None)


def settle(session: Session, person_ids: Iterable[int | None]) -> None:
    """Each of these people keeps only what it has a claim to: a person no longer known gives
    its suggestions back to the unsorted faces, and an unnamed person without faces goes."""
    session.flush()
    for person_id in sorted({p for p in person_ids if p is not None}):
        person = session.get(Person, person_id)
        if person is None:
            continue
        states = {FaceState(s) for s in session.scalars(
            select(Face.state).where(Face.person_id == person_id).distinct())}
        if FaceState.SUGGESTED in states and not is_known(session, person, states):
            session.execute(update(Face).where(Face.person_id == person_id,
                                               Face.state == FaceState.SUGGESTED)
                            .values(person_id=None, state=FaceState.AUTO))
            states.discard(FaceState.SUGGESTED)
        if not states and person.name is None:
            session.delete(person)
    session.flush()
