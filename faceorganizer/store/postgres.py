"""A library kept by a PostgreSQL server, shared by the machines of a household.

The tables are the same as in a library file. What SQLite keeps in its header (the schema
version and the mark that this is a faceorganizer library) lives in the one-row table
``faceorganizer_library``. Units of work behave as they do on a file:

- a writer takes the library's write lock (an advisory lock) when it begins, so writers on any
  machine queue for at most the lock timeout, one after the other, as SQLite's
  ``BEGIN IMMEDIATE`` makes them;
- a reader sees one snapshot for its whole unit of work (``REPEATABLE READ``) and never waits
  for a writer, as in WAL mode.

Creating the tables and migrating them happen in one transaction under that same lock
(PostgreSQL's DDL is transactional): a failed migration changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from faceorganizer.store import decision_log, migrations
from faceorganizer.store.address import ServerAddress
from faceorganizer.store.schema import Base

META_TABLE = "faceorganizer_library"
# The advisory lock every writer holds for its transaction ('FOrg', as the file's application id).
WRITE_LOCK = migrations.APPLICATION_ID


def _configure(engine: Engine, lock_timeout: float, *, writer: bool) -> None:
    lock_ms = max(1, round(lock_timeout * 1000))

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if writer:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {lock_ms}")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


def engines(address: ServerAddress, lock_timeout: float) -> tuple[Engine, Engine]:
    """The writers' engine and the readers' engine for the library at ``address``."""
    options: dict[str, Any] = {"connect_args": address.connect_args(), "pool_pre_ping": True}
    writer = create_engine(address.sqlalchemy_url(), **options)
    _configure(writer, lock_timeout, writer=True)
    reader = create_engine(address.sqlalchemy_url(), isolation_level="REPEATABLE READ", **options)
    _configure(reader, lock_timeout, writer=False)
    return writer, reader


def inspect(conn: Connection) -> tuple[int, int, int]:
    """(schema version, application id, number of tables) of the database, as for a file."""
    tables = conn.execute(text(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")).scalar_one()
    has_meta = conn.execute(text(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name = :name"), {"name": META_TABLE}).scalar_one()
    if not has_meta:
        return 0, 0, int(tables)
    row = conn.execute(text(f"SELECT schema_version, application_id FROM {META_TABLE}")).first()
    if row is None:
        return 0, 0, int(tables)
    return int(row[0]), int(row[1]), int(tables)


def schema_version(conn: Connection) -> int:
    return inspect(conn)[0]


def prepare(conn: Connection, version: int, tables: int, *, create: bool) -> None:
    """Create the library in an empty database, or migrate an older one, in ``conn``'s
    transaction (taken under the write lock); then make sure the decision log's triggers are
    the current ones."""
    if version == 0 and tables == 0:
        if not create:
            raise NoLibrary
        Base.metadata.create_all(conn)
        conn.execute(text(f"CREATE TABLE {META_TABLE} (application_id BIGINT NOT NULL, "
                          "schema_version INTEGER NOT NULL, decision_log TEXT)"))
        conn.execute(text(f"INSERT INTO {META_TABLE} VALUES (:app, :version, NULL)"),
                     {"app": migrations.APPLICATION_ID, "version": migrations.SCHEMA_VERSION})
    for step in range(version or migrations.SCHEMA_VERSION, migrations.SCHEMA_VERSION):
        if step not in migrations.MIGRATIONS:
            raise MissingMigration(step)
        migrations.MIGRATIONS[step](conn)
        conn.execute(text(f"UPDATE {META_TABLE} SET schema_version = :version"), {"version": step + 1})
    fingerprint = decision_log.server_fingerprint()
    if conn.execute(text(f"SELECT decision_log FROM {META_TABLE}")).scalar_one() != fingerprint:
        decision_log.install_server_triggers(conn)
        conn.execute(text(f"UPDATE {META_TABLE} SET decision_log = :print"), {"print": fingerprint})


class NoLibrary(Exception):
    """The database is empty and no library is to be created."""


class MissingMigration(Exception):
    """No migration from schema ``args[0]`` to the next."""
