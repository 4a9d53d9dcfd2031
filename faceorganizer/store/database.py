"""Opening a library: an SQLite file in WAL mode, or a PostgreSQL database
(:mod:`faceorganizer.store.postgres`); schema version checks, migrations.

A library written by a newer faceorganizer is refused before anything is written
to it; an older one is migrated in a single transaction (a file is backed up first).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from faceorganizer.errors import FaceorganizerError
from faceorganizer.store import migrations
from faceorganizer.store.address import AddressError, ServerAddress, library_location
from faceorganizer.store.schema import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
# How long a unit of work waits for another program's write lock before it gives up.
DEFAULT_LOCK_TIMEOUT = 10.0
LOCK_TIMEOUT_ENV = "FACEORGANIZER_LOCK_TIMEOUT"


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


def lock_timeout_setting(value: float | None = None) -> float:
    """Seconds to wait for a lock: ``value``, else ``$FACEORGANIZER_LOCK_TIMEOUT``, else 10."""
    if value is None:
        text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
        try:
            value = float(text) if text else DEFAULT_LOCK_TIMEOUT
        except ValueError:
            raise LibraryError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, not {text!r}.") from None
    if not value >= 0 or value == float("inf"):
        raise LibraryError(f"The lock timeout must be a number of seconds, 0 or more, not {value}.")
    return float(value)


def _translated(exc: BaseException, path: Path | None, lock_timeout: float, *,
                opening: bool = False, server: ServerAddress | None = None) -> LibraryError | None:
    from faceorganizer.store.errors import translate

    return translate(exc, path, lock_timeout=lock_timeout, opening=opening, server=server)


def _check_version(where: str, version: int, app_id: int, tables: int, kind: str) -> None:
    """Refuse a library of a newer schema, or a database that is not a library, before anything
    is written to it."""
    if version > migrations.SCHEMA_VERSION:
        raise LibraryTooNewError(
            f"{where} was written by a newer faceorganizer (library schema {version}; "
            f"this version understands up to {migrations.SCHEMA_VERSION}). Update "
            "faceorganizer to open it. The library has not been changed.")
    if tables and app_id != migrations.APPLICATION_ID:
        raise LibraryError(f"{where} is {kind}, but not a faceorganizer library.")


def _refuse_network(path: Path) -> None:
    """Refuse a library on a network file system before anything is read or written."""
    from faceorganizer.store.errors import network_error

    error = network_error(path)
    if error is not None:
        raise error


def _inspect_checked(path: Path, lock_timeout: float) -> tuple[int, int, int]:
    """:func:`_inspect`, with a locked, unreadable or vanished file explained."""
    try:
        return _inspect(path)
    except LibraryError as exc:
        cause = exc.__cause__
        better = _translated(cause, path, lock_timeout, opening=True) if cause is not None else None
        if better is None:
            raise
        raise better from cause
    except OSError as exc:
        better = _translated(exc, path, lock_timeout, opening=True)
        raise (better or LibraryError(f"Cannot read {path}: {exc.strerror or exc}.")) from exc


def _configure(engine: Engine, begin: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
    busy_ms = round(lock_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
        # that DDL in migrations is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL survives a killed process; only an OS crash may lose the
        # last transactions, never corrupt the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


class Library:
    """A photo library: a file (SQLite), or a database on a PostgreSQL server shared by several
    machines (``postgresql://USER@HOST[:PORT]/DB``, :mod:`faceorganizer.store.postgres`). Use
    :meth:`session` for each unit of work.

    ``lock_timeout``: seconds a unit of work waits for another program's write lock (default
    ``$FACEORGANIZER_LOCK_TIMEOUT``, else 10). Errors a person can act on (a full disk, a
    read-only or locked library, a network share, a server that cannot be reached) are raised
    as the ``LibraryError`` subclasses of :mod:`faceorganizer.store.errors`.
    """

    def __init__(self, target: str | Path | ServerAddress, *, create: bool = True,
                 lock_timeout: float | None = None) -> None:
        self.lock_timeout = lock_timeout_setting(lock_timeout)
        try:
            location = library_location(target)
        except AddressError as exc:
            raise LibraryError(str(exc)) from None
        self.path: Path | None = location if isinstance(location, Path) else None
        self.server: ServerAddress | None = location if isinstance(location, ServerAddress) else None
        if self.server is not None:
            self._open_server(self.server, create)
        else:
            assert self.path is not None
            self._open_file(self.path, create)
        # A unit of work's session cannot be used once its block is over (close_resets_only off):
        # it would start a transaction nobody ends, holding a connection (and on a server, a
        # snapshot or the write lock) until the garbage collector finds it.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, close_resets_only=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False,
                                           close_resets_only=False)

    @property
    def name(self) -> str:
        """Where the library is, for people: its file, or its server address (no password)."""
        return str(self.server) if self.server is not None else str(self.path)

    def is_at(self, target: str | Path) -> bool:
        """Whether ``target`` (a file or a server address, as a person writes it) is this library."""
        try:
            location = library_location(target)
        except AddressError:
            return False
        return location == (self.server if self.server is not None else self.path)

    @property
    def shared(self) -> bool:
        """Whether the library is on a server, shared by several machines."""
        return self.server is not None

    def _open_file(self, path: Path, create: bool) -> None:
        if path.is_dir():
            raise LibraryError(f"{path} is a folder; a library is a file (e.g. library.sqlite).")
        exists = path.exists()
        if not exists and not create:
            raise LibraryError(f"There is no library at {path}.")
        _refuse_network(path)
        version, app_id, tables = _inspect_checked(path, self.lock_timeout) if exists else (0, 0, 0)
        _check_version(str(path), version, app_id, tables, "an SQLite database")
        if not exists:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise (_translated(exc, path, self.lock_timeout, opening=True) or LibraryError(
                    f"Cannot create the library folder {path.parent}: {exc.strerror or exc}.")) from exc
        # Writers take the write lock when they begin, so two writers queue (busy_timeout)
        # instead of failing on a lock upgrade; readers never wait for a writer (WAL).
        self.engine = create_engine(f"sqlite:///{path}")
        _configure(self.engine, "BEGIN IMMEDIATE", self.lock_timeout)
        self._read_engine = create_engine(f"sqlite:///{path}")
        _configure(self._read_engine, "BEGIN", self.lock_timeout)
        try:
            self._prepare_file(version, tables)
        except Exception as exc:
            self.close()
            if isinstance(exc, LibraryError):
                raise
            raise (_translated(exc, path, self.lock_timeout, opening=True)
                   or LibraryError(f"Cannot open {path}: {exc}")) from exc

    def _open_server(self, server: ServerAddress, create: bool) -> None:
        from faceorganizer.store import postgres

        self.engine, self._read_engine = postgres.engines(server, self.lock_timeout)
        try:
            with self.engine.begin() as conn:  # under the write lock: one machine creates or migrates
                version, app_id, tables = postgres.inspect(conn)
                _check_version(str(server), version, app_id, tables, "a PostgreSQL database")
                postgres.prepare(conn, version, tables, create=create)
        except postgres.NoLibrary:
            self.close()
            raise LibraryError(f"There is no library in {server} (the database is empty).") from None
        except postgres.MissingMigration as missing:
            self.close()
            step = missing.args[0]
            raise LibraryError(f"No migration from library schema {step} to {step + 1}; the library "
                               "has not been changed.") from None
        except Exception as exc:
            self.close()
            if isinstance(exc, LibraryError):
                raise
            raise (_translated(exc, None, self.lock_timeout, opening=True, server=server)
                   or LibraryError(f"Cannot open the library {server}: {exc}")) from exc

    def _prepare_file(self, version: int, tables: int) -> None:
        assert self.path is not None
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
        """A consistent copy of a library file (SQLite's online backup). A server's library is
        backed up with the server's own tools (``pg_dump``)."""
        if self.path is None:
            raise LibraryError(f"The library {self.name} is on a server: back it up with pg_dump.")
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
            if self.server is not None:
                from faceorganizer.store import postgres

                return postgres.schema_version(conn)
            return int(conn.execute(text("PRAGMA user_version")).scalar_one())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        with self._explained():
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
        with self._explained():
            session = self._read_sessions()
            try:
                yield session
            finally:
                session.close()  # ends the read transaction; loaded objects stay usable

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """Errors a person can act on (disk full, read-only, locked...) raised as such."""
        try:
            yield
        except Exception as exc:
            error = _translated(exc, self.path, self.lock_timeout, server=self.server)
            if error is None:
                raise
            raise error from exc

    def close(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
