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

SCHEMA_VERSION = 1
# 'FOrg': marks the file as a faceorganizer library.
APPLICATION_ID = 0x464F7267

Migration = Callable[[Connection], None]

MIGRATIONS: dict[int, Migration] = {}
