"""Search by face: the library's photos ranked by how close their faces are to a query.

The embeddings of all faces that are not ignored are held in one float32 matrix; a
query is one matrix-vector product, then the nearest face of each photo ranks the
photo (about 20 ms over 100,000 faces on a 2-core CPU, ``benchmarks/search_speed.py``).
The index holds the faces of the library's embedding space and refuses a query from
another one; thresholds are read in that space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.space import Embeddings, EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.faces import comparable_faces
from faceorganizer.store.records import library_space
from faceorganizer.store.schema import Face, Photo


class SearchError(FaceorganizerError):
    """A search that cannot run (unknown face, no face in the photo...)."""


@dataclass(frozen=True)
class Hit:
    photo_id: int
    photo: str
    face: int
    distance: float


class FaceIndex:
    """All searchable faces of a library in memory. Build it once, query it many times."""

    def __init__(self, face_ids: np.ndarray, photo_ids: np.ndarray, embeddings: np.ndarray,
                 paths: dict[int, str], space: EmbeddingSpace | None = None) -> None:
        self.space = space  # None: a library that records no weights yet (no faces)
        self.face_ids = np.asarray(face_ids, dtype=np.int64)
        self.photo_ids = np.asarray(photo_ids, dtype=np.int64)
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.paths = paths
        self._row = {int(f): i for i, f in enumerate(self.face_ids)}
        # Faces grouped by photo, so the best face per photo is one reduceat.
        self._order = np.argsort(self.photo_ids, kind="stable")
        sorted_photos = self.photo_ids[self._order]
        self._starts = np.flatnonzero(np.r_[True, sorted_photos[1:] != sorted_photos[:-1]]) \
            if len(sorted_photos) else np.zeros(0, dtype=np.int64)
        self._photo_of_group = sorted_photos[self._starts] if len(sorted_photos) else sorted_photos

    @classmethod
    def load(cls, library: Library) -> FaceIndex:
        with library.reader() as session:
            space = library_space(session)
            rows = session.execute(select(Face.id, Face.photo_id, Face.embedding)
                                   .where(comparable_faces(session)).order_by(Face.id)).all()
            paths = {pid: path for pid, path in session.execute(select(Photo.id, Photo.path))}
        if not rows:
            return cls(np.zeros(0), np.zeros(0), np.zeros((0, 512), np.float32), paths, space)
        return cls(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                   np.stack([r[2] for r in rows]), paths, space)

    def __len__(self) -> int:
        return len(self.face_ids)

    def embedding_of(self, face_id: int) -> Embeddings:
        row = self._row.get(int(face_id))
        if row is None or self.space is None:  # no space: the library has no faces
            raise SearchError(f"There is no searchable face {face_id} in this library "
                              "(unknown, marked as not a face, or waiting to be re-embedded).")
        return Embeddings(self.embeddings[row:row + 1], self.space)

    def threshold(self, settings: PeopleSettings) -> float:
        """The default cut-off of a search: the verify threshold, in the index's space."""
        return settings.in_space(self.space).verify_threshold

    def search(self, query: Embeddings, *, top: int = 50, threshold: float | None = None) -> list[Hit]:
        """Photos whose nearest face is closest to ``query`` (one face, of the index's space),
        nearest first, one hit per photo; ``threshold`` is a distance in that space."""
        if len(self.face_ids) == 0:
            return []
        assert self.space is not None
        self.space.check(query.space, "the face searched with")
        distance = 2.0 - 2.0 * (self.embeddings @ np.asarray(query.vectors[0], dtype=np.float32))
        np.maximum(distance, 0.0, out=distance)
        ordered = distance[self._order]
        best = np.minimum.reduceat(ordered, self._starts)
        candidates = (np.flatnonzero(best < threshold) if threshold is not None
                      else np.arange(len(best)))
        if len(candidates) > top:
            candidates = candidates[np.argpartition(best[candidates], top - 1)[:top]]
        candidates = candidates[np.argsort(best[candidates], kind="stable")]
        hits = []
        for group in candidates:
            start = self._starts[group]
            stop = self._starts[group + 1] if group + 1 < len(self._starts) else len(ordered)
            row = self._order[start + int(np.argmin(ordered[start:stop]))]
            photo_id = int(self._photo_of_group[group])
            hits.append(Hit(photo_id, self.paths.get(photo_id, ""), int(self.face_ids[row]),
                            float(best[group])))
        return hits
