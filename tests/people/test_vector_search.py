"""Search in the database with pgvector (issue 13, item 4): the same answers as the in-memory
index on the same library, kept in step as faces come, go, change and are ignored; the
in-memory index wherever the extension is not there."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sqlalchemy import func, insert, select, text, update

from faceorganizer.people import operations as ops
from faceorganizer.people.search import FaceIndex, SearchError, ServerFaceIndex
from faceorganizer.space import Embeddings, EmbeddingSpace, SpaceMismatchError
from faceorganizer.store import Library, vectors
from faceorganizer.store.records import WeightsRecord, put_weights_record
from faceorganizer.store.schema import Face, Photo
from tests.fakes import faces_of, identities, unit

# (top, threshold) as the command line (50, the verify threshold), the window (1000, 1.6) and
# people exploring ask; the last one asks for the whole library (the exact scan).
ASKS = [(50, None), (7, None), (50, 1.13), (1000, 1.6), (20, 0.6), (100_000, None)]


def populate(library: Library, embeddings: np.ndarray, *, photos: int, seed: int,
             spread: bool = True) -> list[int]:
    """``embeddings`` as faces spread at random over ``photos`` new photos (some photos get
    several, some none), or one a photo; the face ids, in order. Bulk inserts: thousands of
    faces in a second."""
    photo_of = (np.random.default_rng(seed).integers(0, photos, len(embeddings)) if spread
                else np.arange(len(embeddings)))
    with library.session() as session:
        start = session.scalar(select(func.count()).select_from(Photo)) or 0
        photo_ids = session.execute(insert(Photo).returning(Photo.id, sort_by_parameter_order=True), [
            {"rel": f"/photos/v{seed}-{start + i:06d}.jpg", "size": 1, "mtime_ns": 1, "status": "ok",
             "width": 1000, "height": 1000} for i in range(photos)]).scalars().all()
        return list(session.execute(insert(Face).returning(Face.id, sort_by_parameter_order=True), [
            {"photo_id": photo_ids[p], "x1": 0.0, "y1": 0.0, "x2": 50.0, "y2": 50.0,
             "landmarks": [0.0] * 10, "probability": 0.99, "embedding": e, "embedding_model": "fake"}
            for p, e in zip(photo_of, embeddings, strict=True)]).scalars().all())


def people(count: int, faces: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(their directions, ``faces`` embeddings of each, person by person)."""
    directions = identities(count, seed=seed)
    return directions, np.concatenate([faces_of(d, faces, seed=seed * 1000 + i)
                                       for i, d in enumerate(directions)])


def queries(memory: FaceIndex, face_ids: list[int], directions: np.ndarray, seed: int) -> list[Embeddings]:
    """Faces of the library, new faces of its people, and a stranger."""
    assert memory.space is not None
    rng = np.random.default_rng(seed)
    known = [memory.embedding_of(int(f)) for f in rng.choice(face_ids, 4, replace=False)]
    new = faces_of(directions[int(rng.integers(len(directions)))], 2, seed=seed)
    stranger = unit(rng.normal(size=(1, directions.shape[1])))
    return [*known, *(Embeddings(v[None, :], memory.space) for v in (*new, *stranger))]


def assert_same(server: FaceIndex, memory: FaceIndex, asked: list[Embeddings],
                asks: list[tuple[int, float | None]] = ASKS, *, loaded_together: bool = True) -> int:
    """Both indexes give the same answers; the number of hits compared."""
    assert isinstance(server, ServerFaceIndex) and type(memory) is FaceIndex
    if loaded_together:  # (an index counts its faces when it loads)
        assert len(server) == len(memory) and server.skipped == memory.skipped
    compared = 0
    for query in asked:
        for top, threshold in asks:
            got = server.search(query, top=top, threshold=threshold)
            want = memory.search(query, top=top, threshold=threshold)
            assert [(h.photo_id, h.photo, h.face) for h in got] == \
                [(h.photo_id, h.photo, h.face) for h in want], (top, threshold)
            assert np.allclose([h.distance for h in got], [h.distance for h in want], rtol=0, atol=1e-5)
            compared += len(want)
    return compared


def both(library: Library) -> tuple[FaceIndex, FaceIndex]:
    return FaceIndex.load(library), FaceIndex.load(library, in_database=False)


@pytest.fixture
def server_library(postgres_server):
    if not postgres_server.vector:
        pytest.skip("the test server has no pgvector")
    with Library(postgres_server.new_database("vectors", vector=True)) as library:
        yield library


def test_the_database_search_gives_the_in_memory_answers(server_library: Library,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    directions, embeddings = people(60, 40, seed=1)
    face_ids = populate(server_library, embeddings, photos=1200, seed=1)
    # The same face in two photos: a tie, broken by the lower photo id in both indexes.
    face_ids += populate(server_library, embeddings[:3], photos=3, seed=2, spread=False)
    scans = []
    real = vectors.nearest

    def spy(*args, **kwargs):
        scans.append(kwargs["exact"])
        return real(*args, **kwargs)

    monkeypatch.setattr(vectors, "nearest", spy)
    server, memory = both(server_library)
    # the exact search copies the vectors but leaves the HNSW graph until an approximate one asks
    assert server.report.added == len(face_ids) == 2403 and server.report.index_seconds is None
    assert assert_same(server, memory, queries(memory, face_ids, directions, seed=3)) > 1000
    assert set(scans) == {True}  # exact scans: the graph is only asked when asked for
    twin = server.search(memory.embedding_of(face_ids[0]), top=2)
    assert {h.face for h in twin} == {face_ids[0], face_ids[-3]} and twin[0].photo_id < twin[1].photo_id
    assert twin[0].distance == twin[1].distance


def test_the_approximate_search_ranks_what_it_finds_as_in_memory(server_library: Library,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """HNSW may miss photos (the module's notes say where), but every photo it returns comes with
    the face, the distance and the place the in-memory search gives it."""
    directions, embeddings = people(40, 40, seed=23)
    face_ids = populate(server_library, embeddings, photos=800, seed=23)
    scans = []
    real = vectors.nearest

    def spy(*args, **kwargs):
        scans.append(kwargs["exact"])
        return real(*args, **kwargs)

    monkeypatch.setattr(vectors, "nearest", spy)
    server = FaceIndex.load(server_library, approximate=True)
    memory = FaceIndex.load(server_library, in_database=False)
    found = missed = 0
    for query in queries(memory, face_ids, directions, seed=24):
        every = {h.photo_id: h for h in memory.search(query, top=100_000)}
        for top, threshold in ASKS:
            got = server.search(query, top=top, threshold=threshold)
            want = memory.search(query, top=top, threshold=threshold)
            assert len(got) <= top and [every[h.photo_id] for h in got] == got
            assert all(threshold is None or h.distance < threshold for h in got)
            assert [(h.distance, h.photo_id) for h in got] == sorted((h.distance, h.photo_id) for h in got)
            found += len({h.photo_id for h in got} & {h.photo_id for h in want})
            missed += len({h.photo_id for h in want} - {h.photo_id for h in got})
    assert False in scans and found > 10 * missed  # the graph answered, and mostly found them


def test_the_vectors_follow_the_faces(server_library: Library) -> None:
    directions, embeddings = people(30, 30, seed=4)
    face_ids = populate(server_library, embeddings, photos=500, seed=4)
    server, memory = both(server_library)
    asked = queries(memory, face_ids, directions, seed=5)
    assert_same(server, memory, asked)
    again = FaceIndex.load(server_library)
    assert again.report.added == 0 and not again.report.created  # type: ignore[attr-defined]

    # faces added: copied by the next load
    more = populate(server_library, faces_of(directions[0], 25, seed=6), photos=10, seed=6)
    newcomer = Embeddings(faces_of(directions[0], 1, seed=7), EmbeddingSpace("fake"))
    assert_same(*both(server_library), [*asked, newcomer])

    # a photo deleted: its faces' vectors go with it (the foreign key's cascade)
    with server_library.session() as session:
        gone = session.get(Face, more[0])
        assert gone is not None
        photo_faces = [f.id for f in gone.photo.faces]
        session.delete(gone.photo)
    with server_library.reader() as session:
        assert session.execute(text("SELECT count(*) FROM face_vectors WHERE face_id = ANY(:ids)"),
                               {"ids": photo_faces}).scalar_one() == 0
    assert_same(*both(server_library), asked)

    # a face re-embedded in place (same id): its old vector is dropped at once, the new one copied
    moved = face_ids[5]
    new_vector = faces_of(directions[7], 1, seed=8)[0]
    with server_library.session() as session:
        session.execute(update(Face).where(Face.id == moved).values(embedding=new_vector))
    with server_library.reader() as session:
        assert session.execute(text("SELECT count(*) FROM face_vectors WHERE face_id = :id"),
                               {"id": moved}).scalar_one() == 0
    server, memory = both(server_library)
    assert_same(server, memory, [*asked, memory.embedding_of(moved)])
    assert server.search(memory.embedding_of(moved), top=1)[0].face == moved

    # faces ignored: gone from the answers at once, even from an index loaded before
    ignored = face_ids[10:40]
    ops.set_ignored(server_library, ignored)
    memory = FaceIndex.load(server_library, in_database=False)
    assert_same(server, memory, asked, loaded_together=False)
    assert not {h.face for q in asked for h in server.search(q, top=100_000)} & set(ignored)
    assert_same(*both(server_library), asked)

    # faces ignored before their vectors were ever copied, then not ignored any more: copied
    late = populate(server_library, faces_of(directions[1], 5, seed=9), photos=5, seed=9)
    ops.set_ignored(server_library, late)
    assert FaceIndex.load(server_library).report.added == 0  # type: ignore[attr-defined]
    ops.set_ignored(server_library, late, False)
    server, memory = both(server_library)
    assert server.report.added == 5  # type: ignore[attr-defined]
    assert_same(server, memory, [*asked, memory.embedding_of(late[0])])


def test_a_library_in_step_loads_without_the_write_lock(server_library: Library) -> None:
    """The window loads an index for every search: when no face changed, that is a few reads,
    even while another machine holds the write lock."""
    populate(server_library, identities(20, seed=25), photos=10, seed=25)
    FaceIndex.load(server_library)
    with Library(server_library.name, lock_timeout=0.2) as other, server_library.session():
        index = FaceIndex.load(other)
        assert isinstance(index, ServerFaceIndex) and index.report.seconds < 0.2
        assert len(index) == 20


def test_a_switch_of_weights_searches_only_the_re_embedded_faces(server_library: Library) -> None:
    directions, embeddings = people(20, 30, seed=9)
    face_ids = populate(server_library, embeddings, photos=400, seed=9)
    server, memory = both(server_library)
    assert_same(server, memory, queries(memory, face_ids, directions, seed=10))
    # New weights: the library's space changes; faces are re-embedded one batch at a time.
    renewed = face_ids[::3]
    rotated = unit(embeddings[::3] + 0.3 * identities(1, seed=11))
    with server_library.session() as session:
        put_weights_record(session, WeightsRecord("/w.pt", EmbeddingSpace("custom-0123456789ab")))
        for face_id, vector in zip(renewed, rotated, strict=True):
            session.execute(update(Face).where(Face.id == face_id)
                            .values(embedding=vector, embedding_model="custom-0123456789ab"))
    server, memory = both(server_library)
    # the trigger had removed the rows of the faces re-embedded; the sync removes the others
    assert len(memory) == len(renewed) and server.report.removed == len(face_ids) - len(renewed)  # type: ignore[attr-defined]
    assert_same(server, memory, queries(memory, renewed, directions, seed=12))
    with server_library.reader() as session:
        models = session.execute(text("SELECT DISTINCT model FROM face_vectors")).scalars().all()
    assert models == ["custom-0123456789ab"]
    with pytest.raises(SpaceMismatchError):
        server.search(Embeddings(rotated[:1], EmbeddingSpace("fake")))


def test_unusable_embeddings_are_skipped_by_both(server_library: Library) -> None:
    directions, embeddings = people(5, 20, seed=13)
    broken = embeddings[:2].copy()
    broken[0, 17] = np.nan
    broken[1, 3] = np.inf
    face_ids = populate(server_library, np.concatenate([embeddings, broken]), photos=50, seed=13)
    short = populate(server_library, embeddings[:1, :100], photos=1, seed=14)
    server, memory = both(server_library)
    assert server.skipped == memory.skipped == 3 and len(server) == len(memory) == 100
    assert server.report.unusable == 3  # type: ignore[attr-defined]
    assert_same(server, memory, queries(memory, face_ids[:100], directions, seed=15))
    for face_id in (*face_ids[-2:], *short):
        for index in (server, memory):
            with pytest.raises(SearchError, match="no searchable face"):
                index.embedding_of(face_id)
    assert FaceIndex.load(server_library).report.unusable == 0  # type: ignore[attr-defined]
    nan_query = Embeddings(broken[:1], server.space)  # type: ignore[arg-type]
    for index in (server, memory):
        with pytest.raises(SearchError, match="not finite"):
            index.search(nan_query)


def test_an_empty_library_and_a_query_from_other_weights(server_library: Library) -> None:
    server, memory = both(server_library)
    assert isinstance(server, ServerFaceIndex) and len(server) == len(memory) == 0
    with server_library.reader() as session:  # nothing created for nothing
        assert session.execute(text("SELECT to_regclass('face_vectors')")).scalar() is None
    query = Embeddings(identities(1, seed=16), EmbeddingSpace("fake"))
    assert server.search(query) == memory.search(query) == []
    for index in (server, memory):
        with pytest.raises(SearchError, match="no searchable face"):
            index.embedding_of(1)
    face_ids = populate(server_library, identities(3, seed=17), photos=3, seed=17)
    server, memory = both(server_library)
    other = Embeddings(memory.embedding_of(face_ids[0]).vectors, EmbeddingSpace("custom-0123456789ab"))
    for index in (server, memory):
        with pytest.raises(SpaceMismatchError, match="cannot be compared"):
            index.search(other)


def test_the_table_is_rebuilt_when_dropped(server_library: Library) -> None:
    face_ids = populate(server_library, identities(10, seed=18), photos=10, seed=18)
    FaceIndex.load(server_library)
    with server_library.session() as session:
        vectors.drop(session)
        session.execute(update(Face).where(Face.id == face_ids[0])
                        .values(embedding=identities(1, seed=19)[0]))  # no trigger, no table: fine
    server, memory = both(server_library)
    assert server.report.created and len(server) == 10  # type: ignore[attr-defined]
    assert_same(server, memory, [memory.embedding_of(face_ids[0])], [(5, None)])


def test_without_the_extension_the_search_is_in_memory(postgres_server) -> None:
    """A user who may not install pgvector (only a superuser may): the in-memory index, saying
    why; asked to search in the database, a clear error."""
    postgres_server.psql("DO $$ BEGIN CREATE ROLE plain LOGIN; EXCEPTION WHEN duplicate_object "
                         "THEN NULL; END $$")
    name = f"plain_{os.getpid()}"
    postgres_server.psql(f'CREATE DATABASE "{name}" OWNER plain')
    address = postgres_server.url(name).replace("postgres@", "plain@")
    with Library(address) as library:
        face_ids = populate(library, identities(4, seed=20), photos=4, seed=20)
        index = FaceIndex.load(library)
        assert type(index) is FaceIndex and len(index) == 4
        if postgres_server.vector:
            assert index.note is not None and "may not install" in index.note
        else:
            assert index.note is not None and "no pgvector" in index.note
        assert index.search(index.embedding_of(face_ids[1]), top=1)[0].face == face_ids[1]
        with pytest.raises(SearchError, match="Cannot search in the database"):
            FaceIndex.load(library, in_database=True)
        with library.reader() as session:
            assert session.execute(text("SELECT to_regclass('face_vectors')")).scalar() is None


def test_an_available_extension_is_installed_where_the_user_may(postgres_server) -> None:
    if not postgres_server.vector:
        pytest.skip("the test server has no pgvector")
    with Library(postgres_server.new_database("vectors", vector=False)) as library:
        populate(library, identities(4, seed=21), photos=4, seed=21)
        assert isinstance(FaceIndex.load(library), ServerFaceIndex)


def test_a_library_file_searches_in_memory(tmp_path) -> None:
    with Library(tmp_path / "library.sqlite") as library:
        face_ids = populate(library, identities(4, seed=22), photos=4, seed=22)
        index = FaceIndex.load(library)
        assert type(index) is FaceIndex and index.note is None and len(index) == 4
        assert index.search(index.embedding_of(face_ids[2]), top=1)[0].face == face_ids[2]
        with pytest.raises(SearchError, match="Cannot search in the database"):
            FaceIndex.load(library, in_database=True)


def test_another_user_may_write_faces_without_rights_on_the_vectors(server_library: Library,
                                                                   postgres_server) -> None:
    """The triggers run with their owner's rights: a user allowed to write the library's tables
    but not the vectors' still writes faces; their own searches are in memory, saying why."""
    face_ids = populate(server_library, identities(6, seed=26), photos=6, seed=26)
    FaceIndex.load(server_library)
    assert server_library.server is not None
    database = server_library.server.database
    postgres_server.psql("DO $$ BEGIN CREATE ROLE helper LOGIN; EXCEPTION WHEN duplicate_object "
                         "THEN NULL; END $$")
    postgres_server.psql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO helper; "
                         "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO helper; "
                         "REVOKE ALL ON face_vectors, face_vectors_state FROM helper", database)
    with Library(postgres_server.url(database).replace("postgres@", "helper@")) as helper:
        more = populate(helper, identities(2, seed=27), photos=2, seed=27)
        with helper.session() as session:
            session.execute(update(Face).where(Face.id == face_ids[0])
                            .values(embedding=identities(1, seed=28)[0]))
        index = FaceIndex.load(helper)
        assert type(index) is FaceIndex and index.note is not None and "permission denied" in index.note
        assert len(index) == 8
    server, memory = both(server_library)
    assert server.report.added == 3  # type: ignore[attr-defined]
    assert_same(server, memory, [memory.embedding_of(face_ids[0]), memory.embedding_of(more[0])],
                [(5, None), (5, 1.13)])
