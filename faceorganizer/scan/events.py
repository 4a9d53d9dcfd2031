"""What a scan reports while it runs: small frozen messages, newest state in each."""

from __future__ import annotations

from dataclasses import dataclass, field

from faceorganizer.people.tags import TagConflict


@dataclass(frozen=True)
class Failure:
    path: str
    error: str


@dataclass(frozen=True)
class ScanSummary:
    """The outcome of one scan. Counts are photos; ``faces`` is faces found by this scan.
    ``failures`` lists every file under the folders that could not be read, with the reason."""

    roots: tuple[str, ...]
    new: int = 0
    unchanged: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    failed: int = 0
    still_failed: int = 0  # of ``failed``: unchanged since they failed, so not read again
    faces: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    failures: tuple[Failure, ...] = ()
    offline_roots: tuple[str, ...] = ()
    problems: tuple[Failure, ...] = field(default=())
    tag_conflicts: tuple[TagConflict, ...] = ()  # names in files the library decided otherwise on
    warnings: tuple[Failure, ...] = ()  # photos scanned whose face regions (XMP) were not all usable
    elsewhere: int = 0  # files another scan running at the same time analysed instead

    def as_dict(self) -> dict:
        return {
            "roots": list(self.roots), "new": self.new, "unchanged": self.unchanged,
            "changed": self.changed, "moved": self.moved, "missing": self.missing,
            "failed": self.failed, "still_failed": self.still_failed, "faces": self.faces,
            "elsewhere": self.elsewhere,
            "seconds": round(self.seconds, 3),
            "cancelled": self.cancelled,
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            "offline_roots": list(self.offline_roots),
            "unreadable_folders": [{"path": p.path, "error": p.error} for p in self.problems],
            "tag_conflicts": [c.as_dict() for c in self.tag_conflicts],
            "warnings": [{"path": w.path, "warning": w.error} for w in self.warnings],
        }


@dataclass(frozen=True)
class ScanStarted:
    """The walk is done: ``total`` photos need work, ``unchanged`` need none."""

    total: int
    unchanged: int


@dataclass(frozen=True)
class ScanProgress:
    """``done`` of ``total`` photos handled; rate in photos/s; ``eta`` in seconds."""

    done: int
    total: int
    faces: int
    rate: float
    eta: float | None
    path: str


@dataclass(frozen=True)
class ScanFinished:
    summary: ScanSummary


ScanEvent = ScanStarted | ScanProgress | ScanFinished
