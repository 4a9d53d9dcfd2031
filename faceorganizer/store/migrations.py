"""Schema versions and the migrations between them.

The version lives in SQLite's ``PRAGMA user_version``. ``MIGRATIONS[n]`` turns a
version-``n`` library into version ``n + 1``; they run in order, in one
transaction, after a backup copy of the file is made. Version 1 is the first
schema; ``tests/fixtures/library_v1.sql`` keeps a real version-1 library so
every later migration is tested from it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

SCHEMA_VERSION = 2
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


MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2}
