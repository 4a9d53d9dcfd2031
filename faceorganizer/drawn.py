"""Faces the user draws: a box around a face the detector missed becomes a face like any other.

The box is in the displayed photo's pixels (as ``faces --json`` gives them). The face is cut
from the photo file and embedded exactly as a scan cuts and embeds detected faces, so it can be
named, searched and grouped; it is marked as drawn, so that no re-detection removes it (only
the user does, by marking it as not a face). Naming it is an ordinary, undoable decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from faceorganizer.analysis import crops_of, decode
from faceorganizer.errors import FaceorganizerError
from faceorganizer.imaging import ImageError
from faceorganizer.models.base import FaceEmbedder
from faceorganizer.people import operations
from faceorganizer.people.operations import clean_name
from faceorganizer.settings import ScanSettings
from faceorganizer.sidecars import orientation_hint
from faceorganizer.store import Library
from faceorganizer.store.faces import SAME_FACE_IOU, iou
from faceorganizer.store.records import WeightsRecord, bump_faces_revision, put_weights_record, weights_record
from faceorganizer.store.schema import Face, Photo
from faceorganizer.store.states import FaceOrigin, PhotoStatus

# A drawn box smaller than this (pixels, either side) holds too little to embed.
MIN_SIDE = 8


class DrawnFaceError(FaceorganizerError):
    """A box that cannot become a face; the message says why."""


@dataclass(frozen=True)
class AddedFace:
    face: int
    photo: str
    box: tuple[float, float, float, float]
    person: int | None
    name: str | None

    def as_dict(self) -> dict:
        return {"face": self.face, "photo": self.photo, "box": [round(v, 1) for v in self.box],
                "person": self.person, "name": self.name}


def checked_box(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    """The box (x1, y1, x2, y2) clipped to the photo; DrawnFaceError when it is not a usable box."""
    if len(box) != 4:
        raise DrawnFaceError("A box is four numbers: X1 Y1 X2 Y2.")
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise DrawnFaceError("A box is four numbers: X1 Y1 X2 Y2.") from None
    if not all(math.isfinite(v) for v in values):
        raise DrawnFaceError("The box's numbers must be finite.")
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise DrawnFaceError("The box must have X2 > X1 and Y2 > Y1 (left, top, right, bottom).")
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    if clipped[2] - clipped[0] < MIN_SIDE or clipped[3] - clipped[1] < MIN_SIDE:
        raise DrawnFaceError(f"The box must lie on the photo ({width} x {height} pixels) and be "
                             f"at least {MIN_SIDE} pixels on each side there.")
    return clipped


def find_photo(library: Library, photo: str | Path | int) -> tuple[int, str, int, int]:
    """(id, path, width, height) of a scanned photo, by id or path."""
    with library.reader() as session:
        if isinstance(photo, int):
            row = session.get(Photo, photo)
        else:
            path = str(Path(photo).expanduser().absolute())
            row = session.scalars(select(Photo).where(Photo.path == path)).first()
        if row is None:
            raise DrawnFaceError(f"{photo} is not in this library; scan its folder first.")
        if row.status != PhotoStatus.OK or not row.width or not row.height:
            raise DrawnFaceError(f"{row.path} is {row.status}: a face can only be added to a photo "
                                 "that is there and could be read.")
        return row.id, row.path, row.width, row.height


def add_face(library: Library, photo: str | Path | int, box: Sequence[float], embedder: FaceEmbedder,
             settings: ScanSettings | None = None, name: str | None = None) -> AddedFace:
    """Add the face at ``box`` (displayed pixels) to a scanned photo, and name it if ``name``.
    Raises DrawnFaceError (bad box, photo not scanned, unreadable or changed since)."""
    settings = settings or ScanSettings()
    if name is not None and not clean_name(name):
        raise DrawnFaceError("A name cannot be empty.")
    photo_id, path, width, height = find_photo(library, photo)
    clipped = checked_box(box, width, height)
    try:
        data = Path(path).read_bytes()
        decoded = decode(data, settings, orientation_hint(data, path))
    except OSError as exc:
        raise DrawnFaceError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    except ImageError as exc:
        raise DrawnFaceError(f"{path} cannot be read: {exc}") from exc
    if (decoded.info.width, decoded.info.height) != (width, height):
        raise DrawnFaceError(f"{path} changed since it was scanned; scan it again first.")
    with library.reader() as session:
        for face in session.scalars(select(Face).where(Face.photo_id == photo_id, Face.ignored.is_(False))):
            if iou(face.box, clipped) >= SAME_FACE_IOU:
                raise DrawnFaceError(f"Face {face.id} is already there; name or move that one.")
    crop = crops_of(data, decoded, [clipped], settings)[0]
    embedding = embedder.embed(crop[None])[0]
    with library.session() as session:
        record = weights_record(session)
        if record is None:
            put_weights_record(session, WeightsRecord(None, embedder.space))
        else:
            record.space.check(embedder.space, "the drawn face")
        row = Face(photo_id=photo_id, x1=clipped[0], y1=clipped[1], x2=clipped[2], y2=clipped[3],
                   landmarks=[], probability=1.0, embedding=embedding,
                   embedding_model=embedder.space.model_id, origin=FaceOrigin.DRAWN)
        session.add(row)
        session.flush()
        face_id = row.id
        bump_faces_revision(session)
    person = operations.name_face(library, face_id, name) if name is not None else None
    return AddedFace(face_id, path, clipped, person, clean_name(name) if name is not None else None)
