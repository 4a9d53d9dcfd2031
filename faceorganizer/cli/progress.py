"""A one-line progress bar for terminals (redrawn at most ten times a second)."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from faceorganizer.scan.events import ScanProgress


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(event: ScanProgress, width: int) -> str:
    fraction = event.done / event.total if event.total else 1.0
    text = (f" {event.done}/{event.total} photos · {event.faces} faces · "
            f"{event.rate:.1f} photos/s · {format_duration(event.eta)} left")
    bar_width = max(10, min(40, width - len(text) - 3))
    filled = int(fraction * bar_width)
    return f"[{'#' * filled}{'.' * (bar_width - filled)}]{text}"[: width - 1]


class ProgressBar:
    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self._last = 0.0
        self._shown = False

    def update(self, event: ScanProgress) -> None:
        now = time.monotonic()
        if event.done < event.total and now - self._last < self.interval:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + render(event, width).ljust(width - 1))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
