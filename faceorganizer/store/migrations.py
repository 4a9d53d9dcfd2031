"""Schema versions and the migrations between them.

The version lives in SQLite's ``PRAGMA user_version`` (on a server, in the table
``faceorganizer_library``: :mod:`faceorganizer.store.postgres`). ``MIGRATIONS[n]`` turns a
version-``n`` library into version ``n + 1``; they run in order, in one
transaction, after a backup copy of the file is made, with foreign-key actions off
(so that rebuilding a table cascades nothing) and a foreign-key check before the
commit. Version 1 is the first schema; ``tests/fixtures/library_v1.sql`` to
``library_v6.sql`` keep real libraries of those versions so every later migration is tested
from them. A migration's DDL is written out here, not taken from the
current models, so that it stays what it was when later schemas change. Libraries on a
server start at schema 7, so the migrations up to it are SQLite's only; later ones must run
on both (``conn.dialect.name`` tells them apart where they must differ).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

SCHEMA_VERSION = 7
# 'FOrg': marks the file as a faceorganizer library.
APPLICATION_ID = 0x464F7267

Migration = Callable[[Connection], None]



def _v1_to_v2(conn: Connection) -> None:
    """People: how each face came to its person, ignored faces, rejections, settings."""
    conn.exec_driver_sql("ALTER TABLE faces ADD COLUMN state VARCHAR(16) DEFAULT 'auto' NOT NULL")
    conn.exec_driver_sql("ALTER TABLE faces ADD COLUMN ignored BOOLEAN DEFAULT '0' NOT NULL")
    conn.exec_driver_sql(
        "CREATE TABLE rejections (face_id INTEGER NOT NULL, person_id INTEGER NOT NULL, "
        "created_at DATETIME NOT NULL, PRIMARY KEY (face_id, person_id), "
        "FOREIGN KEY(face_id) REFERENCES faces (id) ON DELETE CASCADE, "
        "FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE)")
    conn.exec_driver_sql("CREATE TABLE settings (key VARCHAR(64) NOT NULL, value JSON NOT NULL, "
                         "PRIMARY KEY (key))")


_V3_TABLES = {
    "photos": """CREATE TABLE photos (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash VARCHAR(64),
    width INTEGER,
    height INTEGER,
    taken_at DATETIME,
    status VARCHAR(16) NOT NULL,
    error TEXT,
    added_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    FOREIGN KEY(root_id) REFERENCES roots (id) ON DELETE SET NULL,
    UNIQUE (path)
)""",
    "people": """CREATE TABLE people (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    hidden BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL
)""",
    "faces": """CREATE TABLE faces (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    photo_id INTEGER NOT NULL,
    x1 FLOAT NOT NULL,
    y1 FLOAT NOT NULL,
    x2 FLOAT NOT NULL,
    y2 FLOAT NOT NULL,
    landmarks JSON NOT NULL,
    probability FLOAT NOT NULL,
    embedding BLOB NOT NULL,
    embedding_model VARCHAR(64) NOT NULL,
    person_id INTEGER,
    state VARCHAR(16) DEFAULT 'auto' NOT NULL,
    ignored BOOLEAN DEFAULT '0' NOT NULL,
    created_at DATETIME NOT NULL,
    FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE,
    FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE SET NULL
)""",
}
_V3_INDEXES = {
    "photos": ["CREATE INDEX ix_photos_status ON photos (status)",
               "CREATE INDEX ix_photos_content_hash ON photos (content_hash)"],
    "people": [],
    "faces": ["CREATE INDEX ix_faces_person ON faces (person_id)",
              "CREATE INDEX ix_faces_photo_id ON faces (photo_id)"],
}


def _v2_to_v3(conn: Connection) -> None:
    """Photos, people and faces never reuse a deleted row's id (AUTOINCREMENT): each table is
    rebuilt (SQLite cannot alter a primary key) keeping every row and id; the sequences start
    after the largest id in use."""
    for table, create in _V3_TABLES.items():
        columns = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
        names = ", ".join(columns)
        conn.exec_driver_sql(create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE _new_{table} (", 1))
        conn.exec_driver_sql(f"INSERT INTO _new_{table} ({names}) SELECT {names} FROM {table}")
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(f"ALTER TABLE _new_{table} RENAME TO {table}")
        for index in _V3_INDEXES[table]:
            conn.exec_driver_sql(index)


def _v3_to_v4(conn: Connection) -> None:
    """Pairs of people the user said are different ("apart"); who holds each face readable from
    an index alone."""
    conn.exec_driver_sql(
        "CREATE TABLE apart (person_id INTEGER NOT NULL, other_id INTEGER NOT NULL, "
        "created_at DATETIME NOT NULL, PRIMARY KEY (person_id, other_id), "
        "FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, "
        "FOREIGN KEY(other_id) REFERENCES people (id) ON DELETE CASCADE)")
    conn.exec_driver_sql("CREATE INDEX ix_apart_other_id ON apart (other_id)")
    conn.exec_driver_sql("DROP INDEX ix_faces_person")
    conn.exec_driver_sql("CREATE INDEX ix_faces_holder ON faces (person_id, state, ignored)")


def _v4_to_v5(conn: Connection) -> None:
    """Faces from files and drawn by the user (where each face came from); per photo, the XMP
    sidecar read with it and what was wrong with its face regions."""
    conn.exec_driver_sql("ALTER TABLE faces ADD COLUMN origin VARCHAR(16) DEFAULT 'detected' NOT NULL")
    conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN warning TEXT")
    conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN sidecar TEXT")


def _v5_to_v6(conn: Connection) -> None:
    """Which face detector analysed each photo and found each face: until now, always MTCNN."""
    conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN detector VARCHAR(16)")
    conn.exec_driver_sql("ALTER TABLE faces ADD COLUMN detector VARCHAR(16)")
    conn.exec_driver_sql("UPDATE photos SET detector = 'mtcnn' "
                         "WHERE status != 'failed' AND width IS NOT NULL")
    conn.exec_driver_sql("UPDATE faces SET detector = 'mtcnn' WHERE origin = 'detected'")


_ROOT_PATHS = """CREATE TABLE root_paths (
    root_id INTEGER NOT NULL,
    machine VARCHAR(255) NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (root_id, machine),
    CONSTRAINT uq_root_paths_machine_path UNIQUE (machine, path),
    FOREIGN KEY(root_id) REFERENCES roots (id) ON DELETE CASCADE
)"""
_V7_ROOTS = """CREATE TABLE _new_roots (
    id INTEGER NOT NULL,
    path TEXT NOT NULL,
    added_at DATETIME NOT NULL,
    last_scan_at DATETIME,
    PRIMARY KEY (id)
)"""
_V7_PHOTOS = """CREATE TABLE _new_photos (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER,
    rel TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash VARCHAR(64),
    width INTEGER,
    height INTEGER,
    taken_at DATETIME,
    status VARCHAR(16) NOT NULL,
    error TEXT,
    added_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    warning TEXT,
    sidecar TEXT,
    detector VARCHAR(16),
    CONSTRAINT uq_photos_root_rel UNIQUE (root_id, rel),
    FOREIGN KEY(root_id) REFERENCES roots (id) ON DELETE SET NULL
)"""
# A photo's root, as a prefix with one separator, and whether the photo's path starts with it.
_ROOT_PREFIX = "rtrim((SELECT r.path FROM roots r WHERE r.id = photos.root_id), '/') || '/'"
_IN_ROOT = f"(photos.root_id IS NOT NULL AND substr(photos.path, 1, length({_ROOT_PREFIX})) = {_ROOT_PREFIX})"
_RELATIVE = f"substr(photos.path, length({_ROOT_PREFIX}) + 1)"


_SCANS = """CREATE TABLE scans (
    id INTEGER NOT NULL,
    machine VARCHAR(255) NOT NULL,
    pid INTEGER NOT NULL,
    started INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL,
    PRIMARY KEY (id)
)"""
_CLAIMS = """CREATE TABLE claims (
    root_id INTEGER NOT NULL,
    rel TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    PRIMARY KEY (root_id, rel),
    FOREIGN KEY(root_id) REFERENCES roots (id) ON DELETE CASCADE,
    FOREIGN KEY(scan_id) REFERENCES scans (id) ON DELETE CASCADE
)"""


def _v6_to_v7(conn: Connection) -> None:
    """Photos are kept relative to their root, so that machines that find the same share at
    different places (/mnt/photos, /Volumes/photos) share them; where each machine finds a root
    goes in ``root_paths``. Two roots may have the same path (two laptops' own Pictures folders).
    A photo whose path is not inside its root (none should be) keeps its absolute path and no
    root. Scans running at once, and the files each has claimed, have tables of their own. (A
    library file only: libraries on a server begin at this schema.)"""
    conn.exec_driver_sql(_ROOT_PATHS)
    conn.exec_driver_sql(_SCANS)
    conn.exec_driver_sql(_CLAIMS)
    conn.exec_driver_sql("CREATE INDEX ix_claims_scan_id ON claims (scan_id)")
    conn.exec_driver_sql(_V7_ROOTS)
    conn.exec_driver_sql("INSERT INTO _new_roots (id, path, added_at, last_scan_at) "
                         "SELECT id, path, added_at, last_scan_at FROM roots")
    conn.exec_driver_sql(_V7_PHOTOS)
    kept = ("size, mtime_ns, content_hash, width, height, taken_at, status, error, added_at, "
            "updated_at, warning, sidecar, detector")
    conn.exec_driver_sql(
        f"INSERT INTO _new_photos (id, root_id, rel, {kept}) SELECT id, "
        f"CASE WHEN {_IN_ROOT} THEN root_id END, CASE WHEN {_IN_ROOT} THEN {_RELATIVE} ELSE path END, "
        f"{kept} FROM photos")
    conn.exec_driver_sql("DROP TABLE photos")
    conn.exec_driver_sql("DROP TABLE roots")
    conn.exec_driver_sql("ALTER TABLE _new_roots RENAME TO roots")
    conn.exec_driver_sql("ALTER TABLE _new_photos RENAME TO photos")
    conn.exec_driver_sql("CREATE INDEX ix_photos_status ON photos (status)")
    conn.exec_driver_sql("CREATE INDEX ix_photos_content_hash ON photos (content_hash)")


MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6,
                                    6: _v6_to_v7}
