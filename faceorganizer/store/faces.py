"""Face rows: writing a photo's detected faces (keeping ids across re-detection), which compare."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from faceorganizer.boxes import iou
from faceorganizer.models.base import Detection
from faceorganizer.store.records import library_space
from faceorganizer.store.schema import Face, Photo
from faceorganizer.store.states import FaceOrigin

# A re-detected face that overlaps an old one this much is the same face: it keeps
# its id (and so, later, its person and the user's decisions about it).
SAME_FACE_IOU = 0.5


def _fill(face: Face, detection: Detection, embedding: np.ndarray, model_id: str) -> None:
    face.x1, face.y1, face.x2, face.y2 = (float(v) for v in detection.box)
    face.landmarks = [float(v) for point in detection.landmarks for v in point]
    face.probability = float(detection.probability)
    face.embedding = np.asarray(embedding, dtype=np.float32)
    face.embedding_model = model_id


def set_faces(session: Session, photo: Photo, detections: Sequence[Detection],
              embeddings: np.ndarray, model_id: str,
              origins: Sequence[FaceOrigin] | None = None, detector: str | None = None) -> list[Face]:
    """Make ``photo``'s faces these; old faces that overlap a new one keep their ids. An old
    face that was drawn by the user or read from a file stays even where nothing overlaps it:
    only the user removes it (re-detection only replaces what detection found).

    ``detector`` is recorded with the faces it found. Returns the face rows, in the order of
    ``detections``.
    """
    origins = origins if origins is not None else [FaceOrigin.DETECTED] * len(detections)
    old = list(photo.faces)
    pairs = sorted(((iou(f.box, d.box), i, j) for i, f in enumerate(old)
                    for j, d in enumerate(detections)), reverse=True)
    matched_old: set[int] = set()
    matched_new: dict[int, Face] = {}
    for overlap, i, j in pairs:
        if overlap < SAME_FACE_IOU:
            break
        if i not in matched_old and j not in matched_new:
            matched_old.add(i)
            matched_new[j] = old[i]
    for i, face in enumerate(old):
        if i not in matched_old and face.origin == FaceOrigin.DETECTED:
            photo.faces.remove(face)
            session.delete(face)
    rows = []
    for j, detection in enumerate(detections):
        matched = matched_new.get(j)
        face = matched if matched is not None else Face()
        if matched is None:
            photo.faces.append(face)
        if face.origin != FaceOrigin.DRAWN:  # a drawn face stays drawn, whatever finds it again
            face.origin = origins[j]
        face.detector = detector if origins[j] == FaceOrigin.DETECTED else None
        _fill(face, detection, embeddings[j], model_id)
        rows.append(face)
    return rows


def comparable_faces(session: Session) -> Any:
    """The condition for faces that can be compared: not marked as not a face, and embedded in
    the library's space (faces still waiting to be re-embedded after a switch of weights keep
    their person but take part in no grouping, suggestion, search or identification)."""
    space = library_space(session)
    condition = Face.ignored.is_(False)
    return condition if space is None else condition & (Face.embedding_model == space.model_id)
