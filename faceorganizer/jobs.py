"""The long-running jobs the command line and the desktop app run: a scan of folders
followed by grouping the faces into people, as one stream of typed events."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from faceorganizer.people.recluster import ReclusterSummary, recluster
from faceorganizer.people.settings import PeopleSettings, load_settings
from faceorganizer.scan.events import ScanEvent
from faceorganizer.scan.scanner import ModelsFactory, Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library


@dataclass(frozen=True)
class GroupingStarted:
    """The scan is over; faces are being grouped into people."""


@dataclass(frozen=True)
class GroupingFinished:
    summary: ReclusterSummary


JobEvent = ScanEvent | GroupingStarted | GroupingFinished


def scan_and_group(library: Library, folders: Sequence[str | Path], models: ModelsFactory,
                   settings: ScanSettings | None = None, people: PeopleSettings | None = None,
                   cancel: threading.Event | None = None) -> Iterator[JobEvent]:
    """Scan ``folders``, then regroup the library's faces if they changed since they were
    last grouped (also after a cancelled scan: what was scanned is kept, so it is grouped)."""
    yield from Scanner(library, models, settings, cancel).scan(folders)
    yield GroupingStarted()
    yield GroupingFinished(recluster(library, people or load_settings(library), only_if_stale=True))
