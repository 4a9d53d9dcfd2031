"""Scans running at once, on one machine or several, and the files each has claimed.

Each scan registers (``scans``) and beats every few seconds on the database's own clock, so
machines whose clocks disagree still agree on who is alive. Before it analyses a file, a scan
claims it (``claims``): another scan leaves a claimed file alone and comes back to it at the
end, when the claim is gone (the file was done) or lapsed (its scan stopped beating: killed).
Every write transaction of a library is serialised (SQLite's write lock, the server's advisory
lock), so a claim is taken, and a file found done, without a race.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select, text, tuple_, update
from sqlalchemy.orm import Session

from faceorganizer.cores import process_running
from faceorganizer.store.database import Library
from faceorganizer.store.schema import Claim, Scan, current_machine

# A scan that has not beaten for this long is taken for dead, and its claims lapse.
LAPSE = 60
BEAT = 5  # seconds between two heartbeats

Key = tuple[int, str]  # a file: (root id, path in the root)


def clock(session: Session) -> int:
    """Seconds since the epoch on the database's clock (the server's, for a shared library)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(text("SELECT CAST(extract(epoch FROM now()) AS BIGINT)")).scalar_one())
    return int(session.execute(text("SELECT CAST(strftime('%s', 'now') AS INTEGER)")).scalar_one())


def live(session: Session) -> set[int]:
    """The scans running now: beating, and, for those of this machine, their process still
    there (a scan killed here lapses at once; one killed elsewhere when its beats stop)."""
    machine = current_machine()
    rows = session.execute(select(Scan.id, Scan.machine, Scan.pid)
                           .where(Scan.heartbeat >= clock(session) - LAPSE))
    return {scan_id for scan_id, where, pid in rows if where != machine or process_running(pid)}


def lapse(session: Session) -> int:
    """Forget the scans that stopped beating or whose process is gone (killed), and with them
    their claims."""
    alive = live(session)
    dead = [i for i in session.scalars(select(Scan.id)) if i not in alive]
    if dead:
        session.execute(delete(Claim).where(Claim.scan_id.in_(dead)))
        session.execute(delete(Scan).where(Scan.id.in_(dead)))
    return len(dead)


def others(session: Session, scan_id: int | None) -> int:
    """How many other scans of this library are running now."""
    return len(live(session) - {scan_id})


def claim(session: Session, scan_id: int, keys: Iterable[Key]) -> tuple[set[Key], set[Key]]:
    """Claim the files ``keys`` for scan ``scan_id``: (claimed now or already ours, held by
    another running scan). Lapsed claims are taken over."""
    wanted = list(dict.fromkeys(keys))
    held: dict[Key, int] = {}
    for start in range(0, len(wanted), 400):
        chunk = wanted[start:start + 400]
        rows = session.execute(select(Claim.root_id, Claim.rel, Claim.scan_id)
                               .where(tuple_(Claim.root_id, Claim.rel).in_(chunk)))
        held.update(((r, p), s) for r, p, s in rows)
    busy = {k for k, owner in held.items() if owner != scan_id}
    if busy:
        alive = live(session)
        lapsed = {k for k in busy if held[k] not in alive}
        for root_id, rel in lapsed:
            session.execute(update(Claim).where(Claim.root_id == root_id, Claim.rel == rel)
                            .values(scan_id=scan_id))
        busy -= lapsed
    session.add_all(Claim(root_id=r, rel=p, scan_id=scan_id) for r, p in wanted if (r, p) not in held)
    session.flush()
    return set(wanted) - busy, busy


def release(session: Session, scan_id: int, keys: Iterable[Key]) -> None:
    """Drop scan ``scan_id``'s claims on ``keys`` (its results are written)."""
    wanted = list(keys)
    for start in range(0, len(wanted), 400):
        session.execute(delete(Claim).where(Claim.scan_id == scan_id,
                                            tuple_(Claim.root_id, Claim.rel).in_(wanted[start:start + 400])))


@contextmanager
def registered(library: Library) -> Iterator[int]:
    """A scan registered for the block, beating from a thread of its own; its id. Its claims go
    with it when the block ends, however it ends."""
    with library.session() as session:
        lapse(session)
        now = clock(session)
        scan = Scan(machine=current_machine(), pid=os.getpid(), started=now, heartbeat=now)
        session.add(scan)
        session.flush()
        scan_id = scan.id
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(BEAT):
            try:
                with library.session() as session:
                    session.execute(update(Scan).where(Scan.id == scan_id).values(heartbeat=clock(session)))
            except Exception:  # a missed beat is retried; the scan itself reports its errors
                continue

    beater = threading.Thread(target=beat, name="faceorganizer-scan-beat", daemon=True)
    beater.start()
    try:
        yield scan_id
    finally:
        stop.set()
        beater.join()
        try:
            with library.session() as session:
                session.execute(delete(Claim).where(Claim.scan_id == scan_id))
                session.execute(delete(Scan).where(Scan.id == scan_id))
                lapse(session)
        except Exception:  # the scan's own error matters more; its claims lapse anyway
            pass
