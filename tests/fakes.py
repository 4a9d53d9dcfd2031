"""Fake models for tests of the store, the scanner and the GUI.

The detector "finds" bright square patches (as drawn by :func:`face_image`); the
embedder turns a crop's colour into a unit vector, so patches of one colour are
one "person".
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from faceorganizer.models.base import EMBEDDING_SIZE, Detection, Models
from faceorganizer.space import EmbeddingSpace


class FakeDetector:
    """Finds bright square outlines (as :func:`face_image` draws them)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]:
        with self._lock:
            self.calls += 1
        if self.delay:
            threading.Event().wait(self.delay)
        mask = np.asarray(image.convert("L")) > 230
        seen = np.zeros_like(mask)
        found: list[Detection] = []
        height, width = mask.shape
        for y, x in zip(*np.nonzero(mask), strict=True):
            if seen[y, x]:
                continue
            # Flood-fill one bright outline (8-connected) and take its bounding box.
            stack, xs, ys = [(y, x)], [], []
            seen[y, x] = True
            while stack:
                cy, cx = stack.pop()
                xs.append(cx)
                ys.append(cy)
                for ny in (cy - 1, cy, cy + 1):
                    for nx in (cx - 1, cx, cx + 1):
                        if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            stack.append((ny, nx))
            box = (float(min(xs)), float(min(ys)), float(max(xs) + 1), float(max(ys) + 1))
            if box[2] - box[0] < max(4.0, min_face_size):
                continue
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            found.append(Detection(box=box, landmarks=((cx, cy),) * 5, probability=0.99))
        return found


class FakeEmbedder:
    """A crop's mean colour (of its middle) through random Fourier features: colours a few
    levels apart (JPEG noise) land close together, colours 60 levels apart land as far apart
    as two different people. So each colour of :func:`face_image` is one "person"."""

    space = EmbeddingSpace("fake-embedder")
    BANDWIDTH = 15.0

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.frequencies = rng.normal(scale=1.0 / self.BANDWIDTH, size=(EMBEDDING_SIZE, 3))
        self.phases = rng.uniform(0, 2 * np.pi, size=EMBEDDING_SIZE)
        self.calls = 0

    def embed(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        colour = crops[:, 60:100, 60:100, :].reshape(len(crops), -1, 3).mean(axis=1)
        features = np.cos(colour @ self.frequencies.T + self.phases)
        return (features / np.linalg.norm(features, axis=1, keepdims=True)).astype(np.float32)


def fake_models(delay: float = 0.0) -> Models:
    return Models(detector=FakeDetector(delay), embedder=FakeEmbedder())


def face_image(path: Path, faces: list[tuple[int, int, int]] | None = None, size=(400, 300),
               colour=(255, 255, 255), fmt: str | None = None, **save) -> Path:
    """A photo with a bright 60 px "face" square (white border, coloured middle) per
    (x, y, shade) in ``faces``; no faces if the list is empty."""
    image = Image.new("RGB", size, (40, 60, 80))
    draw = ImageDraw.Draw(image)
    for x, y, shade in faces if faces is not None else [(50, 50, 0)]:
        draw.rectangle((x, y, x + 59, y + 59), fill=colour)
        draw.rectangle((x + 20, y + 20, x + 39, y + 39), fill=(shade, 255 - shade, 128))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **save)
    return path


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def identities(count: int, seed: int = 0) -> np.ndarray:
    """``count`` orthogonal-ish unit directions, about 2.0 apart (different people)."""
    return unit(np.random.default_rng(seed).normal(size=(count, EMBEDDING_SIZE)))


def faces_of(direction: np.ndarray, count: int, spread: float = 0.55, seed: int = 0) -> np.ndarray:
    """``count`` embeddings of one person, about ``spread`` apart (squared L2) on average."""
    sigma = np.sqrt((2.0 / (2.0 - spread) - 1.0) / EMBEDDING_SIZE)
    noise = np.random.default_rng(seed).normal(scale=sigma, size=(count, EMBEDDING_SIZE))
    return unit(direction[None, :] + noise)


def add_faces(library, vectors: np.ndarray, *, probability: float = 0.99, size: float = 120.0,
              prefix: str = "/photos/p") -> list[int]:
    """A photo per embedding, each with one face; the new face ids, in order."""
    from faceorganizer.store.schema import Face, Photo

    ids = []
    with library.session() as session:
        start = session.query(Photo).count()
        for i, vector in enumerate(vectors):
            photo = Photo(rel=f"{prefix}{start + i:05d}.jpg", size=1, mtime_ns=1, status="ok",
                          width=1000, height=1000)
            session.add(photo)
            session.flush()
            face = Face(photo_id=photo.id, x1=10.0, y1=10.0, x2=10.0 + size, y2=10.0 + size,
                        landmarks=[0.0] * 10, probability=probability,
                        embedding=np.asarray(vector, dtype=np.float32), embedding_model="fake")
            session.add(face)
            session.flush()
            ids.append(face.id)
        from faceorganizer.store.records import bump_faces_revision

        bump_faces_revision(session)
    return ids


def auto_people(library, pieces: list[list[int]]) -> list[int]:
    """An unnamed person per list of faces, as grouping makes them (whatever grouping does):
    for tests of what comes after grouping. The new people's ids, in order."""
    from faceorganizer.store.schema import Face, Person
    from faceorganizer.store.states import FaceState

    ids = []
    with library.session() as session:
        for faces in pieces:
            person = Person()
            session.add(person)
            session.flush()
            for face_id in faces:
                face = session.get(Face, face_id)
                face.person_id, face.state = person.id, FaceState.AUTO
            ids.append(person.id)
    return ids
