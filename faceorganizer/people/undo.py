"""Undo and redo of the user's decisions, derived from what each decision changed.

A decision (:func:`decision`) runs in one write transaction that records the library's
*decision state* as the operation changes it. Every table the schema marks as a
decision table (``__decision_table__``: people, rejections) and every column it marks as
a decision (``info={"decision": True}``: a face's person, state and "not a face" flag)
is watched (:mod:`faceorganizer.store.decision_log`: triggers generated from those marks)
so that each row's old version is logged the first time the operation inserts, updates or
deletes it. Paired with the rows as
they are after it, that is the decision's :class:`Change`, complete by construction:
whatever an operation touches, directly or through a foreign-key cascade, is in it, and
a decision table or column added to the schema later is recorded without a change here.
The cost is that of the rows a decision changes, not of the library's size.

Undo writes the *before* side back in one transaction, redo the *after* side; rows that
are gone meanwhile (a photo purged) are skipped, and a face is never pointed at a person
that no longer exists. Photos, people and faces never reuse ids (schema 3), so a change
never reaches another row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import Column, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from faceorganizer.people.anchors import settle
from faceorganizer.store import Library, decision_log
from faceorganizer.store.decision_log import LOGS, PARTS, Part
from faceorganizer.store.records import bump_revision
from faceorganizer.store.schema import Person
from faceorganizer.store.states import FaceState

P = ParamSpec("P")
T = TypeVar("T")

Key = tuple[Any, ...]
Values = tuple[Any, ...]


State = dict[str, dict[Key, Values]]


def capture(session: Session) -> State:
    """The library's whole decision state, as seen inside ``session``'s transaction (what
    undo promises to restore; the stateful tests compare it step by step)."""
    state: State = {}
    for part in PARTS:
        rows = session.execute(select(*part.key, *part.values))
        n = len(part.key)
        state[part.table.name] = {tuple(r[:n]): tuple(r[n:]) for r in rows}
    return state


class _Recorder:
    """Records a decision's before-state as it happens: triggers on every decision table and
    column log the old version of each row the first time the decision inserts, updates or
    deletes it (cascades included: both databases fire triggers for foreign-key actions),
    so the cost is that of the rows changed, not of the library (50,000 faces or 50).
    :meth:`change` pairs each logged row with what it is now."""

    def __init__(self, session: Session) -> None:
        self.session = session
        decision_log.start(session)

    def touched_people(self) -> set[int]:
        """The people the operation touched so far: its own rows, and the people that logged or
        current rows point at."""
        self.session.flush()
        found: set[int] = set()
        for part, log in zip(PARTS, LOGS, strict=True):
            columns = [c for c in (*part.key, *part.values) if _is_person(c)]
            if not columns:
                continue
            n = len(part.key)
            logged = self.session.execute(select(*(log.c[c.name] for c in part.key),
                                                 *(log.c[c.name] for c in columns))).all()
            found.update(v for row in logged for v in row[n:] if v is not None)
            keys = [tuple(row[:n]) for row in logged]
            for start in range(0, len(keys), 400):
                found.update(v for row in self.session.execute(
                    select(*columns).where(_key_in(part, keys[start:start + 400]))) for v in row
                    if v is not None)
        return found

    def change(self) -> Change:
        self.session.flush()
        tables = []
        logs = [(part, self.session.execute(select(*log.columns)).all())
                for part, log in zip(PARTS, LOGS, strict=True)]
        decision_log.stop(self.session)
        for part, logged in logs:
            n = len(part.key)
            if not logged:
                continue
            before = {tuple(r[:n]): (tuple(r[n:-1]) if r[-1] else None) for r in logged}
            after: dict[Key, Values | None] = dict.fromkeys(before)
            keys = list(before)
            for start in range(0, len(keys), 400):
                rows = self.session.execute(select(*part.key, *part.values)
                                            .where(_key_in(part, keys[start:start + 400])))
                after.update((tuple(r[:n]), tuple(r[n:])) for r in rows)
            differ = [k for k in keys if before[k] != after[k]]  # changed, and not changed back
            if differ:
                tables.append(TableChange(part.table.name, {k: before[k] for k in differ},
                                          {k: after[k] for k in differ}))
        return Change(tuple(tables))


def _key_in(part: Part, keys: list[Key]) -> Any:
    if len(part.key) == 1:
        return part.key[0].in_([k[0] for k in keys])
    return tuple_(*part.key).in_(keys)


@dataclass(frozen=True)
class TableChange:
    table: str
    before: dict[Key, Values | None]  # None: the row did not exist
    after: dict[Key, Values | None]


@dataclass(frozen=True)
class Change:
    """What one decision changed, table by table (only rows that differ)."""

    tables: tuple[TableChange, ...]

    def __bool__(self) -> bool:
        return bool(self.tables)


def _exists(session: Session, part: Part, keys: list[Key]) -> set[Key]:
    found: set[Key] = set()
    for start in range(0, len(keys), 400):
        found.update(tuple(r) for r in session.execute(
            select(*part.key).where(_key_in(part, keys[start:start + 400]))))
    return found


def _unreferenced(session: Session, part: Part, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with references to rows that no longer exist cleared: a face whose person is
    gone (dropped by a regrouping meanwhile) becomes unsorted and automatic, never a
    pointer to nothing."""
    for column in part.values:
        if column.foreign_keys and not _parent_exists(session, column, row.get(column.name)):
            row[column.name] = None
            if "state" in row:
                row["state"] = FaceState.AUTO
    return row


def _apply(session: Session, change: Change, side: str) -> None:
    """Write one side ("before" or "after") of ``change``."""
    by_name = {t.table: t for t in change.tables}
    parts = [p for p in PARTS if p.table.name in by_name]
    # 1. rows that must exist: inserted or updated, parents first
    for part in parts:
        table_change = by_name[part.table.name]
        target = getattr(table_change, side)
        present = _exists(session, part, list(target))
        for key, values in target.items():
            if values is None:
                continue
            row = dict(zip((c.name for c in part.values), values, strict=True))
            keys = dict(zip((c.name for c in part.key), key, strict=True))
            if part.whole_rows:
                foreign = [c for c in (*part.key, *part.values) if c.foreign_keys]
                if any(not _parent_exists(session, c, {**keys, **row}[c.name]) for c in foreign):
                    continue  # e.g. a rejection of a face purged meanwhile
            else:
                row = _unreferenced(session, part, row)
            if key in present:
                session.execute(update(part.table).where(*(c == v for c, v in zip(
                    part.key, key, strict=True))).values(**row))
            elif part.whole_rows:
                session.execute(insert(part.table).values(**keys, **row))
            # a face that is gone (its photo purged) stays gone
    # 2. rows that must not exist, children first; faces that joined a person meanwhile (a
    #    suggestion made after the decision) become unsorted with it, never stateful orphans
    for part in reversed(parts):
        if not part.whole_rows:
            continue
        gone = [k for k, v in getattr(by_name[part.table.name], side).items() if v is None]
        if not gone:
            continue
        _orphan_faces(session, part, gone)
        for key in gone:
            session.execute(delete(part.table).where(*(c == v for c, v in zip(part.key, key, strict=True))))


def _orphan_faces(session: Session, parent: Part, keys: list[Key]) -> None:
    """Decision rows pointing at ``parent`` rows about to go lose the reference, as
    :func:`_unreferenced` does (a face: unsorted and automatic)."""
    for part in PARTS:
        if part.whole_rows:
            continue  # their own rows cascade
        for column in part.values:
            if any(fk.column.table is parent.table for fk in column.foreign_keys):
                values: dict[str, Any] = {column.name: None}
                if "state" in part.table.c:
                    values["state"] = FaceState.AUTO
                session.execute(update(part.table).where(column.in_([k[0] for k in keys])).values(**values))


def _parent_exists(session: Session, column: Column[Any], value: Any) -> bool:
    if value is None:
        return True
    target = next(iter(column.foreign_keys)).column
    return session.execute(select(target).where(target == value)).first() is not None


def _is_person(column: Column[Any]) -> bool:
    """Whether ``column`` holds a person's id (the people table's key, or a reference to it)."""
    people = Person.__table__
    return (column.table is people and column.primary_key) or any(
        fk.column.table is people for fk in column.foreign_keys)


def _people_in(change: Change) -> set[int]:
    """The people a change touched: its people rows and those its other rows point at."""
    found: set[int] = set()
    parts = {p.table.name: p for p in PARTS}
    for table in change.tables:
        part = parts[table.table]
        columns = (*part.key, *part.values)
        positions = [i for i, c in enumerate(columns) if _is_person(c)]
        for key in table.before:
            for side in (table.before[key], table.after[key]):
                row = (*key, *(side if side is not None else (None,) * len(part.values)))
                found.update(row[i] for i in positions if row[i] is not None)
    return found


def undo(library: Library, change: Change) -> None:
    """Put the decisions ``change`` changed back as they were before it (then settle the
    people it touched, as a decision does: ``people.anchors``)."""
    with library.session() as session:
        _apply(session, change, "before")
        settle(session, _people_in(change))
        bump_revision(session)


def redo(library: Library, change: Change) -> None:
    """Make the decisions ``change`` made again."""
    with library.session() as session:
        _apply(session, change, "after")
        settle(session, _people_in(change))
        bump_revision(session)


class Decision(Generic[P, T]):
    """A user decision: ``op(library, ...)`` runs it in one transaction;
    ``op.undoable(library, ...)`` also returns its :class:`Change` for undo."""

    def __init__(self, operation: Callable[Concatenate[Session, P], T]) -> None:
        self._operation = operation
        functools.update_wrapper(self, operation)

    def __call__(self, library: Library, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.undoable(library, *args, **kwargs)[0]

    def undoable(self, library: Library, *args: P.args, **kwargs: P.kwargs) -> tuple[T, Change]:
        with library.session() as session:
            recorder = _Recorder(session)
            result = self._operation(session, *args, **kwargs)
            settle(session, recorder.touched_people())  # recorded too: undo puts it back
            change = recorder.change()
            bump_revision(session)
        return result, change


def decision(operation: Callable[Concatenate[Session, P], T]) -> Decision[P, T]:
    """Make ``operation(session, ...)`` a decision (see :class:`Decision`)."""
    return Decision(operation)
