"""Opening a library: SQLite in WAL mode, schema version checks, migrations.

A library written by a newer faceorganizer is refused before anything is written
to it; an older one is backed up, then migrated in a single transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from faceorganizer.errors import FaceorganizerError
from faceorganizer.paths import absolute
from faceorganizer.store import migrations
from faceorganizer.store.schema import Base

SQLITE_MAGIC = b"SQLite format 3\x00"


class LibraryError(FaceorganizerError):
    """The library cannot be opened; the message says why."""


class LibraryTooNewError(LibraryError):
    """The library was written by a newer faceorganizer."""


def _inspect(path: Path) -> tuple[int, int, int]:
    """(user_version, application_id, number of tables) of an existing file, read-only."""
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head and head != SQLITE_MAGIC:
        raise LibraryError(f"{path} is not a faceorganizer library (not an SQLite database).")
    if not head:
        return 0, 0, 0
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise LibraryError(f"{path} cannot be read as a library: {exc}.") from exc
    return version, app_id, tables


def _configure(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
        # that DDL in migrations is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL survives a killed process; only an OS crash may lose the
        # last transactions, never corrupt the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


class Library:
    """A photo library file. Use :meth:`session` for each unit of work."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = absolute(path)
        if self.path.is_dir():
            raise LibraryError(f"{self.path} is a folder; a library is a file (e.g. library.sqlite).")
        exists = self.path.exists()
        if not exists and not create:
            raise LibraryError(f"There is no library at {self.path}.")
        version, app_id, tables = _inspect(self.path) if exists else (0, 0, 0)
        if version > migrations.SCHEMA_VERSION:
            raise LibraryTooNewError(
                f"{self.path} was written by a newer faceorganizer (library schema {version}; "
                f"this version understands up to {migrations.SCHEMA_VERSION}). Update "
                "faceorganizer to open it. The library has not been changed.")
        if tables and app_id != migrations.APPLICATION_ID:
            raise LibraryError(f"{self.path} is an SQLite database, but not a faceorganizer library.")
        if not exists:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"Cannot create the library folder {self.path.parent}: "
                                   f"{exc.strerror or exc}.") from exc
        # Writers take the write lock when they begin, so two writers queue (busy_timeout)
        # instead of failing on a lock upgrade; readers never wait for a writer (WAL).
        self.engine = create_engine(f"sqlite:///{self.path}")
        _configure(self.engine, "BEGIN IMMEDIATE")
        self._read_engine = create_engine(f"sqlite:///{self.path}")
        _configure(self._read_engine, "BEGIN")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        try:
            self._prepare(version, tables)
        except sqlite3.Error as exc:  # pragma: no cover - wrapped by SQLAlchemy normally
            raise LibraryError(f"Cannot open {self.path}: {exc}") from exc
        except Exception as exc:
            self.close()
            if isinstance(exc, LibraryError):
                raise
            raise LibraryError(f"Cannot open {self.path}: {exc}") from exc

    def _prepare(self, version: int, tables: int) -> None:
        if version == migrations.SCHEMA_VERSION:
            return
        if version == 0 and tables == 0:
            with self.engine.begin() as conn:
                Base.metadata.create_all(conn)
                conn.exec_driver_sql(f"PRAGMA application_id = {migrations.APPLICATION_ID}")
                conn.exec_driver_sql(f"PRAGMA user_version = {migrations.SCHEMA_VERSION}")
            return
        self.backup(self.path.with_name(f"{self.path.name}.schema{version}.bak"))
        with self.engine.connect() as conn:
            # Foreign-key actions off while tables are rebuilt (dropping a table must not
            # cascade); the pragma only works outside a transaction, hence the raw connection.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    for step in range(version, migrations.SCHEMA_VERSION):
                        if step not in migrations.MIGRATIONS:
                            raise LibraryError(f"No migration from library schema {step} to {step + 1}.")
                        migrations.MIGRATIONS[step](conn)
                        conn.exec_driver_sql(f"PRAGMA user_version = {step + 1}")
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise LibraryError(f"Migrating {self.path} would leave {len(broken)} broken "
                                           "references; the library has not been changed.")
            finally:
                raw.execute("PRAGMA foreign_keys = ON")

    def backup(self, target: Path) -> Path:
        """A consistent copy of the library (SQLite's online backup)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(self.path)
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
        return target

    @property
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("PRAGMA user_version")).scalar_one())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work that never waits for a writer."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.close()  # ends the read transaction; loaded objects stay usable

    def close(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
