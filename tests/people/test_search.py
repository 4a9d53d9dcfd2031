"""Search by face: ranking, one hit per photo, cut-offs, ignored faces."""

from __future__ import annotations

import numpy as np
import pytest

from faceorganizer.people import operations as ops
from faceorganizer.people.search import FaceIndex, SearchError
from faceorganizer.space import Embeddings, EmbeddingSpace, SpaceMismatchError
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Photo
from tests.fakes import add_faces, faces_of, identities


def test_photos_are_ranked_by_their_nearest_face(library: Library) -> None:
    d = identities(3, seed=41)
    ann = add_faces(library, faces_of(d[0], 5, spread=0.4, seed=1))
    add_faces(library, faces_of(d[1], 5, seed=2))
    # A group photo with one of Ann's faces and a stranger's.
    with library.session() as session:
        photo = Photo(rel="/photos/group.jpg", size=1, mtime_ns=1, status="ok")
        session.add(photo)
        session.flush()
        for vector in (faces_of(d[0], 1, spread=0.4, seed=9)[0], d[2]):
            session.add(Face(photo_id=photo.id, x1=0, y1=0, x2=50, y2=50, landmarks=[0.0] * 10,
                             probability=0.99, embedding=vector, embedding_model="fake"))
    index = FaceIndex.load(library)
    assert len(index) == 12
    hits = index.search(index.embedding_of(ann[0]), top=20, threshold=1.13)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert hits[0].face == ann[0] and hits[0].distance == pytest.approx(0, abs=1e-5)
    assert len({h.photo for h in hits}) == len(hits) == 6  # Ann's five photos and the group
    assert "/photos/group.jpg" in {h.photo for h in hits}
    assert len(index.search(index.embedding_of(ann[0]), top=3)) == 3
    assert len(index.search(index.embedding_of(ann[0]), top=100, threshold=None)) == 11


def test_ignored_faces_are_not_searched_and_unknown_faces_are_errors(library: Library) -> None:
    ids = add_faces(library, identities(2, seed=3))
    ops.set_ignored(library, [ids[0]])
    index = FaceIndex.load(library)
    assert len(index) == 1
    with pytest.raises(SearchError, match="no searchable face"):
        index.embedding_of(ids[0])
    (hit,) = index.search(index.embedding_of(ids[1]), threshold=None)
    assert hit.face == ids[1]
    query = Embeddings(np.ones((1, 512), np.float32), EmbeddingSpace("fake"))
    assert FaceIndex.load(library).search(query) != []


def test_a_query_from_other_weights_is_refused(library: Library) -> None:
    """Issue 9 item 3: embeddings of two spaces are never compared."""
    ids = add_faces(library, identities(2, seed=3))
    index = FaceIndex.load(library)
    assert index.space == EmbeddingSpace("fake")
    other = Embeddings(index.embedding_of(ids[0]).vectors, EmbeddingSpace("custom-0123456789ab", 1.1))
    with pytest.raises(SpaceMismatchError, match="cannot be compared"):
        index.search(other)


def test_the_default_cut_off_is_read_in_the_index_space(library: Library) -> None:
    from faceorganizer.people.settings import PeopleSettings
    from faceorganizer.store.records import WeightsRecord, put_weights_record

    add_faces(library, identities(2, seed=3))
    with library.session() as session:
        put_weights_record(session, WeightsRecord("/w.pt", EmbeddingSpace("fake", 1.2)))
    index = FaceIndex.load(library)
    assert index.threshold(PeopleSettings()) == pytest.approx(1.13 * 1.2)
