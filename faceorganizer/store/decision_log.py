"""The log of what a decision changes, kept by the database itself (for undo,
:mod:`faceorganizer.people.undo`).

Every table the schema marks as a decision table (``__decision_table__``) and every column it
marks as a decision (``info={"decision": True}``) is watched: while a decision is being
recorded, the old version of each row it inserts, updates or deletes (foreign-key cascades
included) is logged, the first time only, into a temporary table ``undo_<table>`` of the
decision's own connection. The watchers are generated from those marks, so a decision table or
column added to the schema later is recorded with no change here.

- **SQLite:** temporary triggers, created when the recording starts and dropped when it stops.
- **PostgreSQL:** triggers cannot be temporary there, so each table has permanent triggers
  (installed with the library, refreshed when their definition changes) that do nothing unless
  the transaction has set ``faceorganizer.recording``; the log tables are temporary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from faceorganizer.store.schema import Base

RECORDING = "faceorganizer.recording"  # the PostgreSQL setting that turns the triggers on


@dataclass(frozen=True)
class Part:
    """What undo captures of one table: its key columns and its decision columns."""

    table: Table
    key: tuple[Column[Any], ...]
    values: tuple[Column[Any], ...]
    whole_rows: bool  # rows are created and deleted by decisions (not just updated)

    @property
    def columns(self) -> tuple[Column[Any], ...]:
        return (*self.key, *self.values)


def _parts() -> tuple[Part, ...]:
    parts = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        assert isinstance(table, Table)
        whole = bool(getattr(mapper.class_, "__decision_table__", False))
        key = tuple(table.primary_key.columns)
        values = tuple(c for c in table.columns if c not in key and (whole or c.info.get("decision")))
        if whole or values:
            parts.append(Part(table, key, values, whole))
    # Parents first: people before the faces and rejections that point at them.
    order = {t: i for i, t in enumerate(Base.metadata.sorted_tables)}
    return tuple(sorted(parts, key=lambda p: order[p.table]))


PARTS = _parts()


def _log_table(part: Part) -> Table:
    """The temporary table where the first old version of each row of ``part`` a decision touches
    is logged (``existed`` 0: the row was inserted by the decision)."""
    return Table(f"undo_{part.table.name}", MetaData(),
                 *(Column(c.name, c.type) for c in part.columns), Column("existed", Integer))


LOGS = tuple(_log_table(part) for part in PARTS)


def _names(part: Part) -> str:
    return ", ".join([*(c.name for c in part.columns), "existed"])


def _keys(part: Part) -> str:
    return ", ".join(c.name for c in part.key)


# ---- SQLite: temporary triggers ------------------------------------------------------------


def _sqlite_drop(log: Table) -> list[str]:
    return [*(f"DROP TRIGGER IF EXISTS temp.{log.name}_{kind}" for kind in "uid"),
            f"DROP TABLE IF EXISTS temp.{log.name}"]


def _sqlite_start(part: Part, log: Table) -> list[str]:
    table, names = part.table.name, _names(part)
    old = ", ".join(f"OLD.{c.name}" for c in part.columns)
    new_keys = ", ".join(f"NEW.{c.name}" for c in part.key)
    nulls = "".join(", NULL" for _ in part.values)
    statements = [*_sqlite_drop(log),
                  f"CREATE TEMPORARY TABLE {log.name} ({names}, PRIMARY KEY ({_keys(part)}))"]
    watched = ", ".join(c.name for c in part.values)
    statements.append(f"CREATE TEMPORARY TRIGGER {log.name}_u AFTER UPDATE OF {watched} ON "
                      f"main.{table} BEGIN INSERT OR IGNORE INTO {log.name} ({names}) "
                      f"VALUES ({old}, 1); END")
    if part.whole_rows:
        statements.append(f"CREATE TEMPORARY TRIGGER {log.name}_d AFTER DELETE ON main.{table} "
                          f"BEGIN INSERT OR IGNORE INTO {log.name} ({names}) VALUES ({old}, 1); END")
        statements.append(f"CREATE TEMPORARY TRIGGER {log.name}_i AFTER INSERT ON main.{table} "
                          f"BEGIN INSERT OR IGNORE INTO {log.name} ({names}) "
                          f"VALUES ({new_keys}{nulls}, 0); END")
    return statements


# ---- PostgreSQL: permanent triggers, switched on per transaction ----------------------------


def _server_log_table(part: Part, log: Table, dialect: Dialect) -> str:
    columns = ", ".join(f"{c.name} {c.type.compile(dialect)}" for c in log.columns)
    return f"CREATE TEMPORARY TABLE {log.name} ({columns}, PRIMARY KEY ({_keys(part)}))"


def server_triggers() -> list[str]:
    """The trigger functions and triggers of a library on a server (idempotent statements)."""
    statements = []
    for part, log in zip(PARTS, LOGS, strict=True):
        table, names = part.table.name, _names(part)
        old = ", ".join(f"OLD.{c.name}" for c in part.columns)
        new_keys = ", ".join(f"NEW.{c.name}" for c in part.key)
        nulls = "".join(", NULL" for _ in part.values)
        function = f"faceorganizer_log_{table}"
        statements.append(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF current_setting('{RECORDING}', true) IS DISTINCT FROM 'on' THEN RETURN NULL; END IF; "
            f"IF TG_OP = 'INSERT' THEN INSERT INTO pg_temp.{log.name} ({names}) "
            f"VALUES ({new_keys}{nulls}, 0) ON CONFLICT DO NOTHING; "
            f"ELSE INSERT INTO pg_temp.{log.name} ({names}) VALUES ({old}, 1) ON CONFLICT DO NOTHING; "
            "END IF; RETURN NULL; END $$")
        watched = ", ".join(c.name for c in part.values)
        events = {"u": f"UPDATE OF {watched}"}
        if part.whole_rows:
            events.update(d="DELETE", i="INSERT")
        for kind, event in events.items():
            statements.append(f"CREATE OR REPLACE TRIGGER {function}_{kind} AFTER {event} ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION {function}()")
    return statements


def server_fingerprint() -> str:
    """Changes whenever the triggers' definition does (a decision column added, say)."""
    return hashlib.sha256("\n".join(server_triggers()).encode()).hexdigest()[:16]


def install_server_triggers(conn: Connection) -> None:
    for statement in server_triggers():
        conn.exec_driver_sql(statement)


# ---- both ----------------------------------------------------------------------------------


def start(session: Session) -> None:
    """Start logging what ``session``'s transaction changes (empty logs)."""
    dialect = session.get_bind().dialect
    for part, log in zip(PARTS, LOGS, strict=True):
        if dialect.name == "sqlite":
            statements = _sqlite_start(part, log)
        else:
            statements = [f"DROP TABLE IF EXISTS pg_temp.{log.name}",
                          _server_log_table(part, log, dialect)]
        for statement in statements:
            session.execute(text(statement))
    if dialect.name != "sqlite":
        session.execute(text(f"SELECT set_config('{RECORDING}', 'on', true)"))


def stop(session: Session) -> None:
    """Stop logging and drop the logs (read them first)."""
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        session.execute(text(f"SELECT set_config('{RECORDING}', 'off', true)"))
    for log in LOGS:
        statements = (_sqlite_drop(log) if dialect.name == "sqlite"
                      else [f"DROP TABLE IF EXISTS pg_temp.{log.name}"])
        for statement in statements:
            session.execute(text(statement))
