"""Search by face: the library's photos ranked by how close their faces are to a query.

Two indexes answer the same questions (:meth:`FaceIndex.load` picks one):

- **In memory** (:class:`FaceIndex`): the embeddings of all searchable faces in one float32
  matrix; a query is one matrix-vector product, then the nearest face of each photo ranks the
  photo (about 20 ms over 100,000 faces on a 2-core CPU, ``benchmarks/search_speed.py``). Exact.
  Loading it reads every embedding (2 KB a face): instant from a file, about 3 s over 100,000
  faces from a server, at each load (the window and the command line load one per search).
- **In the database** (:class:`ServerFaceIndex`), on a library on a PostgreSQL server with
  pgvector 0.8+: the embeddings are kept in a ``vector`` column with an HNSW index
  (:mod:`faceorganizer.store.vectors`); loading reads nothing, a search reads its answer.

Both return the same thing for the same library: one hit per photo (its nearest face), nearest
first; ties between photos go to the lower photo id, between the faces of a photo to the lower
face id; ``distance`` is the squared L2 distance ``2 - 2 * dot`` computed by numpy in float32,
the same to the bit for a face whichever index computes it.

How the database search gives the in-memory answers. Two steps:

1. *Candidates*: the faces nearest the query, read from pgvector in distance order with a
   growing LIMIT until the answer's photos must all be in hand: every face up to the cut-off
   (``threshold``), or up to the ``top``-th distinct photo's distance if that comes first, each
   plus a margin (pgvector's float32 sums differ from numpy's in the last bits).
2. *Re-check*: every comparable face of those candidate photos is read from ``faces`` and
   ranked by the in-memory code itself. So each photo returned comes with the face, the
   distance (to the bit) and the place the in-memory search gives it.

Step 2 cannot make up for a face step 1 never read. By default step 1 is pgvector's exact scan
(every vector of the library compared, in the database: 0.1 to 0.2 s a search over 100,000
faces on a 2-core server): the answers are identical by construction. The HNSW index is approximate, and
on face embeddings the searches the application makes are its worst case: a person's faces
are a cloud of nearly equidistant points (the top 50 of a person with thousands of photos is a
cut through it), and the window's cut-off, 1.6, reaches into the crowd of strangers all about
as far from the query, where the graph has little to lead it. There, even with a large
candidate list (``hnsw.ef_search``) and strict-order iterative scans (``hnsw.iterative_scan``),
the graph misses photos: on ``benchmarks/search_speed.py``'s 100,000 realistic faces, most
answers differ from the in-memory ones somewhere (see its output). So the index answers only
where asked to (``FaceIndex.load(library, approximate=True)``): faster for small answers, every
photo it returns ranked exactly as in memory, but photos may be missing (and those after them
move up). Even then a ranking without a cut-off, a search asking for more faces than the
library holds, and one where the index stopped early (it cannot tell it saw everything) are
answered by the exact scan.

Freshness: the in-memory index is the library as it was when loaded. The database index reads
the library when it searches, except that faces added or re-embedded after it was loaded are
found only once an index is loaded again (the load copies them); faces deleted or ignored since
are never returned.

Either index holds the faces of the library's embedding space and refuses a query from another
one; thresholds are read in that space. A stored embedding that is not finite (or of another
length than the library's) cannot be searched; both indexes skip it and count it
(:attr:`FaceIndex.skipped`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sqlalchemy import ARRAY, Integer, LargeBinary, any_, bindparam, select, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.space import Embeddings, EmbeddingSpace
from faceorganizer.store import Library, LibraryError, vectors
from faceorganizer.store.faces import comparable_faces
from faceorganizer.store.records import library_space
from faceorganizer.store.schema import Face, Photo

log = logging.getLogger(__name__)

# Database search: faces read at first (then 4 times more each round) by the HNSW index, by
# an exact scan; HNSW candidate list.
FIRST_LIMIT = 64
EXACT_FIRST_LIMIT = 4096
EF_SEARCH = 200
# How far past a cut-off candidates are read. pgvector's float32 distances differ from numpy's
# (both sum 512 products in float32, in different orders): about 1e-6 apart, and at most
# 2 * 512 * 2**-24 (6e-5) for unit vectors, twice that between two faces' distances; so no face
# that ranks within the cut-off in memory is left out.
MARGIN = 1e-3


class SearchError(FaceorganizerError):
    """A search that cannot run (unknown face, no face in the photo...)."""


@dataclass(frozen=True)
class Hit:
    photo_id: int
    photo: str
    face: int
    distance: float


def _no_face(face_id: int) -> SearchError:
    return SearchError(f"There is no searchable face {face_id} in this library "
                       "(unknown, marked as not a face, or waiting to be re-embedded).")


def _query_vector(query: Embeddings, dimension: int | None) -> np.ndarray:
    vector = np.asarray(query.vectors[0], dtype=np.float32).ravel()
    if dimension is not None and len(vector) != dimension:
        raise SearchError(f"The face searched with has {len(vector)} numbers; this library's faces "
                          f"have {dimension}.")
    if not np.isfinite(vector).all():
        raise SearchError("The face searched with has no usable embedding (it holds numbers that "
                          "are not finite).")
    return vector


def _decoded(rows: Sequence[tuple[int, int, bytes | None]], dimension: int | None) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(face ids, photo ids, embeddings, how many were skipped) of (face, photo, blob) rows."""
    mask, matrix = vectors.usable([blob for _, _, blob in rows], dimension)
    faces = np.array([r[0] for r in rows], dtype=np.int64)[mask]
    photos = np.array([r[1] for r in rows], dtype=np.int64)[mask]
    if not len(faces):
        matrix = np.zeros((0, dimension or 512), np.float32)
    return faces, photos, matrix, int((~mask).sum())


class FaceIndex:
    """All searchable faces of a library in memory. Build it once, query it many times."""

    backend: ClassVar[str] = "memory"

    def __init__(self, face_ids: np.ndarray, photo_ids: np.ndarray, embeddings: np.ndarray,
                 paths: dict[int, str], space: EmbeddingSpace | None = None) -> None:
        self.space = space  # None: a library that records no weights yet (no faces)
        self.face_ids = np.asarray(face_ids, dtype=np.int64)
        self.photo_ids = np.asarray(photo_ids, dtype=np.int64)
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.paths = paths
        self.skipped = 0  # searchable faces left out: their stored embedding is unusable
        self.note: str | None = None  # on a server library: why the search is not in the database
        self._row = {int(f): i for i, f in enumerate(self.face_ids)}
        # Faces grouped by photo, so the best face per photo is one reduceat.
        self._order = np.argsort(self.photo_ids, kind="stable")
        sorted_photos = self.photo_ids[self._order]
        self._starts = np.flatnonzero(np.r_[True, sorted_photos[1:] != sorted_photos[:-1]]) \
            if len(sorted_photos) else np.zeros(0, dtype=np.int64)
        self._photo_of_group = sorted_photos[self._starts] if len(sorted_photos) else sorted_photos

    @classmethod
    def load(cls, library: Library, *, in_database: bool | None = None,
             approximate: bool = False) -> FaceIndex:
        """The library's search index: in the database where the library is on a server with
        pgvector (:class:`ServerFaceIndex`), else in memory. ``in_database``: True requires the
        database (a :class:`SearchError` says why it cannot), False always loads into memory.
        Where the database was wanted but cannot serve, :attr:`note` says why. ``approximate``:
        the database index answers a search with a cut-off from its HNSW graph (faster for small
        answers, but it may miss photos; see the module's notes)."""
        note = None
        if in_database or (in_database is None and library.server is not None):
            try:
                return ServerFaceIndex.open(library, approximate=approximate)
            except (vectors.VectorsError, LibraryError) as exc:
                if in_database:
                    raise SearchError(f"Cannot search in the database of {library.name}: {exc}.") from exc
                note = f"searching in memory: {exc}"
                log.info("%s: %s", library.name, note)
        index = FaceIndex._read(library)
        index.note = note
        return index

    @classmethod
    def _read(cls, library: Library) -> FaceIndex:
        """Every searchable face's embedding, read into memory."""
        with library.reader() as session:
            space = library_space(session)
            rows = session.execute(select(Face.id, Face.photo_id, type_coerce(Face.embedding, LargeBinary))
                                   .where(comparable_faces(session)).order_by(Face.id)).all()
            paths = {pid: path for pid, path in session.execute(select(Photo.id, Photo.path))}
        lengths = Counter(len(blob) for _, _, blob in rows if blob is not None)
        faces, photos, matrix, skipped = _decoded(
            [(r[0], r[1], r[2]) for r in rows], vectors.common_dimension(dict(lengths)))
        index = cls(faces, photos, matrix, paths, space)
        index.skipped = skipped
        return index

    def __len__(self) -> int:
        return len(self.face_ids)

    @property
    def dimension(self) -> int | None:
        return self.embeddings.shape[1] if len(self.face_ids) else None

    def embedding_of(self, face_id: int) -> Embeddings:
        row = self._row.get(int(face_id))
        if row is None or self.space is None:  # no space: the library has no faces
            raise _no_face(face_id)
        return Embeddings(self.embeddings[row:row + 1], self.space)

    def threshold(self, settings: PeopleSettings) -> float:
        """The default cut-off of a search: the verify threshold, in the index's space."""
        return settings.in_space(self.space).verify_threshold

    def search(self, query: Embeddings, *, top: int = 50, threshold: float | None = None) -> list[Hit]:
        """Photos whose nearest face is closest to ``query`` (one face, of the index's space),
        nearest first, one hit per photo; ``threshold`` is a distance in that space."""
        if len(self.face_ids) == 0 or top <= 0:
            return []
        assert self.space is not None
        self.space.check(query.space, "the face searched with")
        vector = _query_vector(query, self.dimension)
        # einsum, not BLAS: each face's dot product comes out the same to the bit whatever the
        # matrix around it (BLAS's kernels depend on its size), so the database search's
        # re-check over a few faces gives the very distances of this one over all of them.
        distance = 2.0 - 2.0 * np.einsum("ij,j->i", self.embeddings, vector)
        np.maximum(distance, 0.0, out=distance)
        ordered = distance[self._order]
        best = np.minimum.reduceat(ordered, self._starts)
        candidates = (np.flatnonzero(best < threshold) if threshold is not None
                      else np.arange(len(best)))
        if len(candidates) > top:
            # Every photo as near as the top-th stays, so that ties are broken below, not here.
            kth = np.partition(best[candidates], top - 1)[top - 1]
            candidates = candidates[best[candidates] <= kth]
        # Groups are in photo id order: a stable sort breaks ties by the lower photo id.
        candidates = candidates[np.argsort(best[candidates], kind="stable")][:top]
        hits = []
        for group in candidates:
            start = self._starts[group]
            stop = self._starts[group + 1] if group + 1 < len(self._starts) else len(ordered)
            # Faces of a photo are in face id order: argmin takes the lower id of a tie.
            row = self._order[start + int(np.argmin(ordered[start:stop]))]
            photo_id = int(self._photo_of_group[group])
            hits.append(Hit(photo_id, self.paths.get(photo_id, ""), int(self.face_ids[row]),
                            float(best[group])))
        return hits


class ServerFaceIndex(FaceIndex):
    """The searchable faces of a library on a PostgreSQL server, searched where they are by
    pgvector (an exact scan; ``approximate``: its HNSW index), then re-checked exactly (see the
    module's notes). The same interface as :class:`FaceIndex`; nothing of the faces is held in
    memory (no ``face_ids``, ``embeddings``...). Use it while its library is open."""

    backend: ClassVar[str] = "pgvector"

    def __init__(self, library: Library, extension: vectors.Extension, space: EmbeddingSpace | None,
                 dimension: int | None, empty: bool, skipped: int, report: vectors.SyncReport, *,
                 approximate: bool = False) -> None:
        # Not FaceIndex.__init__: there are no arrays to hold.
        self.approximate = approximate
        self.library = library
        self.extension = extension
        self.space = space
        self._dimension = dimension
        self._empty = empty
        self._count: int | None = None  # counted when asked: it reads every row
        self.skipped = skipped
        self.note = None
        self.report = report  # what bringing the vectors in step took at load

    @classmethod
    def open(cls, library: Library, *, approximate: bool = False) -> ServerFaceIndex:
        """Bring the library's vectors in step (:func:`vectors.sync`) and open the index on them.
        Raises :class:`vectors.VectorsError` (or a :class:`LibraryError`) where it cannot."""
        extension = vectors.extension(library)
        with library.reader() as session:
            space = library_space(session)
        report = vectors.sync(library, extension, space.model_id, index=approximate) \
            if space is not None else vectors.SyncReport()
        if report.index_seconds is not None or report.added:
            log.info("%s: %d faces copied for search, index built in %s s", library.name,
                     report.added, report.index_seconds)
        try:
            with library.reader() as session:
                empty = space is None or not vectors.searchable(session, space.model_id)
                skipped = vectors.unusable_count(session, space.model_id) if space else 0
                dimension = vectors.table_dimension(session)
        except DBAPIError as exc:
            raise vectors.VectorsError(f"the vectors cannot be read ({exc.orig})") from exc
        if skipped:
            log.warning("%s: %d faces cannot be searched: their stored embedding is not %s finite "
                        "numbers", library.name, skipped, dimension)
        return cls(library, extension, space, dimension, empty, skipped, report, approximate=approximate)

    def __len__(self) -> int:
        if self._count is None:
            if self._empty or self.space is None:
                self._count = 0
            else:
                with self.library.reader() as session:
                    self._count = vectors.searchable_count(session, self.space.model_id)
        return self._count

    @property
    def dimension(self) -> int | None:
        return self._dimension

    def embedding_of(self, face_id: int) -> Embeddings:
        if self.space is None:
            raise _no_face(face_id)
        with self.library.reader() as session:
            row = session.execute(select(type_coerce(Face.embedding, LargeBinary))
                                  .where(Face.id == int(face_id), Face.ignored.is_(False),
                                         Face.embedding_model == self.space.model_id)).first()
        mask, matrix = vectors.usable([row[0] if row is not None else None], self._dimension)
        if not mask[0]:
            raise _no_face(face_id)
        return Embeddings(matrix, self.space)

    def search(self, query: Embeddings, *, top: int = 50, threshold: float | None = None) -> list[Hit]:
        if self._empty or top <= 0:
            return []
        assert self.space is not None
        self.space.check(query.space, "the face searched with")
        vector = _query_vector(query, self._dimension)
        with self.library.reader() as session:
            photos = self._candidates(session, vector, top, threshold)
            return self._exactly(session, photos, query, top, threshold)

    def _candidates(self, session: Session, vector: np.ndarray, top: int,
                    threshold: float | None) -> list[int]:
        """The photos that may be in the answer, from the nearest faces (read until enough)."""
        assert self.space is not None
        # No cut-off: the tail of the ranking is faces of strangers, all about as far, where the
        # graph finds little; a ranking of everything is answered by a scan, exactly.
        exact = not self.approximate or threshold is None
        # (a scan costs about the same for any limit: one should do)
        limit = max(EXACT_FIRST_LIMIT, 4 * top) if exact else FIRST_LIMIT
        within = threshold + MARGIN if threshold is not None else None
        while True:
            near = vectors.nearest(session, self.extension, vector, self.space.model_id, limit,
                                   exact=exact, within=within if exact else None,
                                   ef_search=max(EF_SEARCH, limit))
            if near.read < limit and not exact:
                exact = True  # the index stopped early: it cannot say it saw everything
                continue
            photos = _enough(near, top, threshold, complete=near.read < limit)
            if photos is not None:
                return photos
            limit *= 4

    def _exactly(self, session: Session, photos: list[int], query: Embeddings, top: int,
                 threshold: float | None) -> list[Hit]:
        """The answer among ``photos``, computed as in memory from all their comparable faces."""
        if not photos:
            return []
        assert self.space is not None
        rows = vectors.faces_of_photos(session, photos, self.space.model_id)
        # (one array, not a parameter a photo: an answer may hold more photos than a statement
        # may have parameters)
        paths = {pid: path for pid, path in session.execute(
            select(Photo.id, Photo.path).where(Photo.id == any_(bindparam("ids", photos, ARRAY(Integer)))))}
        faces, photo_ids, matrix, _ = _decoded(rows, self._dimension)
        return FaceIndex(faces, photo_ids, matrix, paths, self.space).search(
            query, top=top, threshold=threshold)


def _enough(near: vectors.Nearest, top: int, threshold: float | None, *,
            complete: bool) -> list[int] | None:
    """The candidate photos among the faces read (in distance order), or None where more must
    be read: every face up to the cut-off (``threshold``, or the ``top``-th photo's distance),
    plus a margin."""
    first: dict[int, float] = {}
    for _, photo, distance in near.faces:
        first.setdefault(photo, distance)
    bound = float("inf") if threshold is None else threshold + MARGIN
    if len(first) >= top:
        bound = min(bound, list(first.values())[top - 1] + MARGIN)
    if not complete and (near.last is None or near.last <= bound):
        return None
    return [photo for photo, distance in first.items() if distance <= bound]
