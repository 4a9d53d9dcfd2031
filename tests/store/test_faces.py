"""Writing faces: re-detected faces keep their ids, others come and go."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from faceorganizer.models.base import Detection
from faceorganizer.store import Library
from faceorganizer.store.faces import iou, set_faces
from faceorganizer.store.read import faces as list_faces
from faceorganizer.store.schema import Face, Photo


def det(x1: float, y1: float, x2: float, y2: float) -> Detection:
    return Detection(box=(x1, y1, x2, y2), landmarks=((0.0, 0.0),) * 5, probability=0.99)


def vectors(n: int) -> np.ndarray:
    return np.eye(n, 512, dtype=np.float32)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150


def test_redetected_faces_keep_ids_new_ones_are_added_lost_ones_removed(library: Library) -> None:
    with library.session() as session:
        photo = Photo(rel="/p/a.jpg", size=1, mtime_ns=1, status="ok")
        session.add(photo)
        assert len(set_faces(session, photo, [det(0, 0, 100, 100), det(200, 0, 300, 100)],
                             vectors(2), "m1")) == 2
    with library.reader() as session:
        before = {f.x1: f.id for f in session.scalars(select(Face))}

    with library.session() as session:
        photo = session.scalars(select(Photo)).one()
        # The first face moved a little, the second is gone, a third appeared.
        rows = set_faces(session, photo, [det(5, 3, 104, 101), det(400, 0, 500, 100)],
                         vectors(2), "m2")
        assert [r.id is None for r in rows] == [False, True]  # the second is new
    with library.reader() as session:
        faces = {round(f.x1): f for f in session.scalars(select(Face))}
    assert set(faces) == {5, 400}
    assert faces[5].id == before[0.0]
    assert faces[400].id not in before.values()
    assert faces[5].embedding_model == "m2"
    with library.reader() as session:
        assert [r.photo for r in list_faces(session)] == ["/p/a.jpg"] * 2
