"""Opening libraries: creation, WAL, refusing newer or foreign files, migrations."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from faceorganizer.store import Library, LibraryError, LibraryTooNewError, migrations
from faceorganizer.store.schema import Face, Photo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_library_is_wal_with_version_and_id(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "library.sqlite"
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
        with library.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA application_id")).scalar_one() == migrations.APPLICATION_ID


def test_embeddings_round_trip_as_float32(library: Library) -> None:
    vector = np.random.default_rng(1).normal(size=512).astype(np.float32)
    with library.session() as session:
        photo = Photo(rel="/p/a.jpg", size=1, mtime_ns=1, status="ok")
        session.add(photo)
        session.flush()
        session.add(Face(photo_id=photo.id, x1=1, y1=2, x2=3, y2=4, landmarks=[0.0] * 10,
                         probability=0.99, embedding=vector, embedding_model="m"))
    with library.reader() as session:
        face = session.scalars(select(Face)).one()
        assert face.embedding.dtype == np.float32
        np.testing.assert_array_equal(face.embedding, vector)
        raw = session.execute(text("SELECT length(embedding) FROM faces")).scalar_one()
        assert raw == 512 * 4


def test_a_session_that_fails_writes_nothing(library: Library) -> None:
    with pytest.raises(RuntimeError), library.session() as session:
        session.add(Photo(rel="/p/a.jpg", size=1, mtime_ns=1, status="ok"))
        session.flush()
        raise RuntimeError("boom")
    with library.reader() as session:
        assert session.scalars(select(Photo)).all() == []


def test_newer_library_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    Library(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(LibraryTooNewError, match="newer faceorganizer.*has not been changed"):
        Library(path)
    assert digest(path) == before
    assert not path.with_name(path.name + ".schema2.bak").exists()


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("my shopping list")
    with pytest.raises(LibraryError, match="not an SQLite database"):
        Library(path)
    assert path.read_text() == "my shopping list"


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="not a faceorganizer library"):
        Library(path)


def test_folder_is_not_a_library(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="is a folder"):
        Library(tmp_path)


def test_missing_library_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="There is no library"):
        Library(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def load_v1_fixture(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "library_v1.sql").read_text())
    conn.close()


def test_first_schema_fixture_opens_with_its_data(tmp_path: Path) -> None:
    """A real version-1 library (tests/fixtures/library_v1.sql) opens, migrated if need be."""
    path = tmp_path / "v1.sqlite"
    load_v1_fixture(path)
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
        with library.reader() as session:
            photos = session.scalars(select(Photo).order_by(Photo.id)).all()
            assert [p.path for p in photos] == ["/photos/a.jpg", "/photos/b.jpg"]
            face = session.scalars(select(Face)).one()
            assert face.photo_id == photos[0].id
            assert face.embedding.shape == (512,)


def test_migrations_run_in_order_after_a_backup(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.sqlite"
    load_v1_fixture(path)
    ran: list[int] = []

    def add_column(conn) -> None:
        ran.append(1)
        conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN rating INTEGER DEFAULT 0")

    def fill_column(conn) -> None:
        ran.append(2)
        conn.exec_driver_sql("UPDATE photos SET rating = 5")

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: add_column, 2: fill_column})
    with Library(path) as library:
        assert library.schema_version == 3
        with library.reader() as session:
            assert session.execute(text("SELECT rating FROM photos")).scalars().all() == [5, 5]
    assert ran == [1, 2]
    backup = path.with_name("v1.sqlite.schema1.bak")
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_a_failing_migration_leaves_the_library_as_it_was(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.sqlite"
    load_v1_fixture(path)

    def half_done(conn) -> None:
        conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN rating INTEGER")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: half_done})
    with pytest.raises(LibraryError, match="migration bug"):
        Library(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    columns = [row[1] for row in conn.execute("PRAGMA table_info(photos)")]
    assert "rating" not in columns
    conn.close()


def columns(path: Path) -> dict[str, set[tuple]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: {tuple(str(v).strip("'") for v in row[1:]) for row in
                    conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        conn.close()


def test_a_migrated_first_schema_library_equals_a_new_one(tmp_path: Path) -> None:
    old = tmp_path / "v1.sqlite"
    load_v1_fixture(old)
    Library(old).close()
    new = tmp_path / "new.sqlite"
    Library(new).close()
    assert columns(old) == columns(new)
    with Library(old) as library, library.reader() as session:
        face = session.scalars(select(Face)).one()
        assert (face.state, face.ignored, face.person_id) == ("auto", False, None)


def load_fixture(path: Path, name: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / name).read_text())
    conn.close()


def dump(path: Path, table: str) -> list[tuple]:
    """The rows of ``table``; a photo's path as before schema 7 (absolute), where it is now kept
    relative to its root, so that the earlier migrations' tests compare like with like."""
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        if table == "photos" and "rel" in columns:
            absolute = ("CASE WHEN root_id IS NULL THEN rel ELSE rtrim((SELECT r.path FROM roots r "
                        "WHERE r.id = photos.root_id), '/') || '/' || rel END")
            listed = ", ".join(absolute if c == "rel" else c for c in columns)
            return conn.execute(f"SELECT {listed} FROM photos ORDER BY 1, 2").fetchall()
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def as_before(after: dict[str, list[tuple]], before: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """``after`` with each row cut to the columns the old schema had (later migrations only
    append columns, whose values the newest migration's own test checks)."""
    return {t: [row[:len(before[t][0])] if before[t] else row for row in rows]
            for t, rows in after.items()}


def test_a_second_schema_library_keeps_every_row_and_decision(tmp_path: Path) -> None:
    """v2 -> v3 rebuilds photos, people and faces: nothing may cascade (rejections, person ids)."""
    path = tmp_path / "v2.sqlite"
    load_fixture(path, "library_v2.sql")
    before = {t: dump(path, t) for t in ("photos", "people", "faces", "rejections", "settings", "roots")}
    assert len(before["rejections"]) == 2 and any(row[10] is not None for row in before["faces"])
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
    after = {t: dump(path, t) for t in before}
    assert as_before(after, before) == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    assert columns(path) == columns(new_library(tmp_path))


def new_library(tmp_path: Path) -> Path:
    path = tmp_path / "fresh.sqlite"
    Library(path).close()
    return path


def test_migrated_and_new_libraries_have_the_same_tables_and_indexes(tmp_path: Path) -> None:
    old = tmp_path / "v1.sqlite"
    load_v1_fixture(old)
    Library(old).close()
    fresh = new_library(tmp_path)

    def shape(path: Path) -> dict[str, tuple]:
        conn = sqlite3.connect(path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name != 'sqlite_sequence'")]
            return {t: (sorted(tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({t})")),
                        sorted((r[1], r[2]) for r in conn.execute(f"PRAGMA index_list({t})")),
                        sorted(tuple(r[2:]) for r in conn.execute(f"PRAGMA foreign_key_list({t})")),
                        "AUTOINCREMENT" in conn.execute(
                            "SELECT sql FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0])
                    for t in tables}
        finally:
            conn.close()

    assert shape(old) == shape(fresh)
    assert {t for t, s in shape(fresh).items() if s[3]} == {"photos", "people", "faces"}


def test_ids_of_deleted_rows_are_never_reused(library: Library) -> None:
    """An undo step or a script holding person 2 or face 2 must never reach another row."""
    from faceorganizer.store.schema import Person

    with library.session() as session:
        photo = Photo(rel="/p/a.jpg", size=1, mtime_ns=1, status="ok")
        session.add_all([photo, Person(name="a"), Person(name="b")])
        session.flush()
        for _ in range(2):
            session.add(Face(photo_id=photo.id, x1=1, y1=2, x2=3, y2=4, landmarks=[0.0] * 10,
                             probability=0.99, embedding=np.zeros(512, np.float32), embedding_model="m"))
    with library.session() as session:
        session.execute(text("DELETE FROM people WHERE id = 2"))
        session.execute(text("DELETE FROM faces WHERE id = 2"))
        session.execute(text("DELETE FROM photos"))
    with library.session() as session:
        person = Person(name="c")
        photo = Photo(rel="/p/b.jpg", size=1, mtime_ns=1, status="ok")
        session.add_all([person, photo])
        session.flush()
        face = Face(photo_id=photo.id, x1=1, y1=2, x2=3, y2=4, landmarks=[0.0] * 10, probability=0.99,
                    embedding=np.zeros(512, np.float32), embedding_model="m")
        session.add(face)
        session.flush()
        assert (person.id, photo.id, face.id) == (3, 2, 3)


def test_a_migrated_library_does_not_reuse_ids_either(tmp_path: Path) -> None:
    from faceorganizer.store.schema import Person

    path = tmp_path / "v2.sqlite"
    load_fixture(path, "library_v2.sql")
    with Library(path) as library:
        with library.session() as session:
            top = max(session.scalars(select(Person.id)))
            session.execute(text(f"DELETE FROM people WHERE id = {top}"))
        with library.session() as session:
            person = Person(name="new")
            session.add(person)
            session.flush()
            assert person.id == top + 1


def test_a_third_schema_library_gains_the_apart_table_and_keeps_every_row(tmp_path: Path) -> None:
    """v3 -> v4 adds the pairs of people the user said are different; nothing else changes."""
    path = tmp_path / "v3.sqlite"
    load_fixture(path, "library_v3.sql")
    tables = ("photos", "people", "faces", "rejections", "settings", "roots")
    before = {t: dump(path, t) for t in tables}
    assert before["people"] and before["rejections"]
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
    assert as_before({t: dump(path, t) for t in tables}, before) == before
    assert dump(path, "apart") == []
    assert columns(path) == columns(new_library(tmp_path))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_a_fourth_schema_library_gains_face_origins_and_photo_sidecars(tmp_path: Path) -> None:
    """v4 -> v5: every face was found by the detector; no photo has a sidecar or a warning yet.
    Every row, apart pair and decision is kept."""
    path = tmp_path / "v4.sqlite"
    load_fixture(path, "library_v4.sql")
    tables = ("photos", "people", "faces", "rejections", "settings", "roots", "apart")
    before = {t: dump(path, t) for t in tables}
    assert before["apart"] and before["rejections"]
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
    assert as_before({t: dump(path, t) for t in tables}, before) == before
    conn = sqlite3.connect(path)
    assert {r[0] for r in conn.execute("SELECT origin FROM faces")} == {"detected"}
    assert set(conn.execute("SELECT warning, sidecar FROM photos")) == {(None, None)}
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    assert columns(path) == columns(new_library(tmp_path))


def test_a_fifth_schema_library_records_that_mtcnn_found_its_faces(tmp_path: Path) -> None:
    """v5 -> v6: every analysed photo and every detected face was MTCNN's (the only detector
    then); faces from files, failed and never-read photos have none. Every row is kept."""
    path = tmp_path / "v5.sqlite"
    load_fixture(path, "library_v5.sql")
    tables = ("photos", "people", "faces", "rejections", "settings", "roots", "apart")
    before = {t: dump(path, t) for t in tables}
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
    assert as_before({t: dump(path, t) for t in tables}, before) == before
    conn = sqlite3.connect(path)
    photos = dict(conn.execute("SELECT '/photos/' || rel, detector FROM photos").fetchall())
    faces = conn.execute("SELECT origin, detector FROM faces ORDER BY id").fetchall()
    conn.close()
    assert photos == {"/photos/a.jpg": "mtcnn", "/photos/b.jpg": "mtcnn", "/photos/c.jpg": "mtcnn",
                      "/photos/gone.jpg": None, "/photos/bad.jpg": None}
    assert faces == [("detected", "mtcnn"), ("file", None), ("detected", "mtcnn"), ("detected", "mtcnn")]
    assert columns(path) == columns(new_library(tmp_path))


def test_a_sixth_schema_library_keeps_its_photos_relative_to_their_roots(tmp_path: Path) -> None:
    """v6 -> v7: each photo is kept relative to its root (two roots may hold the same file name),
    roots may share a path, and where each machine finds a root has its own table. Every row is
    kept, and every photo is where it was."""
    from sqlalchemy import select

    from faceorganizer.store.schema import Photo, Root, RootPath

    path = tmp_path / "v6.sqlite"
    load_fixture(path, "library_v6.sql")
    tables = ("photos", "people", "faces", "rejections", "settings", "roots", "apart")
    before = {t: dump(path, t) for t in tables}
    with Library(path) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION == 7
        with library.reader() as session:
            photos = {p.id: (p.root_id, p.rel, p.path) for p in session.scalars(select(Photo))}
            assert session.scalars(select(RootPath)).all() == []
        assert photos[1] == (1, "a.jpg", "/photos/a.jpg")
        assert photos[6] == (2, "a.jpg", "/media/usb/a.jpg")  # the same name in another root
        assert photos[7] == (1, "2019/summer/a.jpg", "/photos/2019/summer/a.jpg")
        with library.session() as session:  # two roots may now share a path (two machines' own)
            session.add(Root(path="/photos"))
    kept = [t for t in tables if t != "roots"]
    assert {t: dump(path, t) for t in kept} == {t: before[t] for t in kept}
    assert dump(path, "roots")[:2] == before["roots"]
    assert columns(path) == columns(new_library(tmp_path))
