"""Names from files: a face region another app named (XMP) is a user decision.

The face joins the person of that name (created if there is none) as confirmed, so regrouping
never moves it. Where the library already decided otherwise for that face (confirmed to
someone else, said not to be that person, or marked as not a face), the library wins and the
disagreement is reported as a :class:`TagConflict`, never applied silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from faceorganizer.people.anchors import settle
from faceorganizer.people.operations import clean_name
from faceorganizer.store.read import person_named
from faceorganizer.store.records import bump_revision
from faceorganizer.store.schema import Face, Person, Rejection
from faceorganizer.store.states import FaceState


@dataclass(frozen=True)
class TagConflict:
    """A file names a face one way, the library another (``library_name`` is None for an
    unnamed person, and for a face the user marked as not a face)."""

    photo: str
    box: tuple[float, float, float, float]  # displayed pixels, like ``faces --json``
    file_name: str
    library_name: str | None

    def as_dict(self) -> dict:
        return {"photo": self.photo, "box": [round(v, 1) for v in self.box],
                "file_name": self.file_name, "library_name": self.library_name}


def apply_file_names(session: Session, named: Sequence[tuple[str, Face, str]]) -> list[TagConflict]:
    """Give these faces (flushed rows, with their photo's path) the names their photos' files
    give them, in one go (one settling of the people touched); the conflicts."""
    conflicts: list[TagConflict] = []
    touched: set[int | None] = set()
    for photo_path, face, raw in named:
        name = clean_name(raw)
        if not name:
            continue
        found = person_named(session, name)
        target = session.get(Person, found) if found is not None else None
        holder = session.get(Person, face.person_id) if face.person_id is not None else None
        if target is not None and holder is not None and target.id == holder.id:
            if face.state != FaceState.CONFIRMED:
                face.state = FaceState.CONFIRMED
                touched.add(holder.id)
            continue
        rejected = target is not None and session.get(Rejection, (face.id, target.id)) is not None
        decided = face.state == FaceState.CONFIRMED and holder is not None
        if face.ignored or rejected or decided:
            library_name = None if face.ignored or holder is None else holder.name
            conflicts.append(TagConflict(photo_path, face.box, name, library_name))
            continue
        if target is None:
            target = Person(name=name)
            session.add(target)
            session.flush()
        touched.update({face.person_id, target.id})
        face.person_id, face.state = target.id, FaceState.CONFIRMED
    if touched:
        session.flush()
        settle(session, touched)
        bump_revision(session)
    return conflicts
