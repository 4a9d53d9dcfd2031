"""The long-running jobs the command line and the desktop app run: a scan of folders,
re-embedding faces whose embeddings come from other weights, and grouping the faces
into people, as one stream of typed events."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from faceorganizer.models.base import Models
from faceorganizer.people.recluster import ReclusterSummary, recluster
from faceorganizer.people.settings import PeopleSettings, load_settings
from faceorganizer.reembed import ReembedFinished, ReembedProgress, reembed, stale_faces
from faceorganizer.scan.events import ScanEvent
from faceorganizer.scan.scanner import ModelsFactory, Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library, read
from faceorganizer.store.scans import others


@dataclass(frozen=True)
class GroupingStarted:
    """The scan is over; faces are being grouped into people."""


@dataclass(frozen=True)
class GroupingFinished:
    summary: ReclusterSummary


JobEvent = ScanEvent | ReembedProgress | ReembedFinished | GroupingStarted | GroupingFinished


def _once(models: ModelsFactory) -> ModelsFactory:
    loaded: list = []
    lock = threading.Lock()

    def get() -> Models:
        with lock:
            if not loaded:
                loaded.append(models())
            return loaded[0]
    return get


def scan_and_group(library: Library, folders: Sequence[str | Path], models: ModelsFactory,
                   settings: ScanSettings | None = None, people: PeopleSettings | None = None,
                   cancel: threading.Event | None = None, *,
                   retry_failed: bool = False, new_root: bool = False) -> Iterator[JobEvent]:
    """Scan ``folders``, then regroup the library's faces if they changed since they were
    last grouped (also after a cancelled scan: what was scanned is kept, so it is grouped).
    ``retry_failed`` reads files that failed before again even if they did not change;
    ``new_root`` adds a folder beside folders not mapped on this machine (a shared library)."""
    models = _once(models)
    yield from Scanner(library, models, settings, cancel, retry_failed=retry_failed,
                       new_root=new_root).scan(folders)
    with library.reader() as session:
        running = others(session, None)
        counts = read.counts(session)
    if running:  # scans still running on this library (on any machine): the last one groups
        yield GroupingStarted()
        yield GroupingFinished(ReclusterSummary(people=counts.people, new_people=0, suggestions=0,
                                                unsorted=counts.unsorted, clustered=0, seconds=0.0,
                                                waiting=running))
        return
    yield from reembed_and_group(library, models, settings, people, cancel)


def reembed_and_group(library: Library, models: ModelsFactory, settings: ScanSettings | None = None,
                      people: PeopleSettings | None = None,
                      cancel: threading.Event | None = None) -> Iterator[JobEvent]:
    """Re-embed the faces left from other weights (after a switch), then regroup if needed."""
    if stale_faces(library) and not (cancel is not None and cancel.is_set()):
        yield from reembed(library, models, settings, cancel)
    yield GroupingStarted()
    yield GroupingFinished(recluster(library, people or load_settings(library), only_if_stale=True))
