"""Sharing the machine's cores between faceorganizer processes.

Two torch processes that each use every core slow each other down many times over (measured
once at 20x on 2 cores): each thread waits for the others' time slices in the middle of its
matrix products. So every scan registers its process while it runs (a file named after the
pid in the cache folder, removed when the scan ends or the process exits; files of processes
that are gone are ignored and removed), and takes its share of the cores: the cores this
process may run on, divided by the number of faceorganizer processes scanning, at least one.
A scan then runs at most that many compute threads at once (detection and embedding take a
slot each). An idle window holds no share.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from faceorganizer.paths import cache_dir

_registered: Path | None = None
_depth = 0


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system says)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        with contextlib.suppress(OSError):
            return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def _folder() -> Path:
    return cache_dir() / "running"


def process_running(pid: int) -> bool:
    """Whether process ``pid`` of this machine is running, where that can be told."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, OverflowError):
        return True  # someone else's process, or we may not ask (or no such pid number): count it
    return True


@contextlib.contextmanager
def busy() -> Iterator[int]:
    """Count this process among those sharing the cores while the block runs; its share."""
    global _registered, _depth
    _depth += 1
    if _registered is None:
        try:
            folder = _folder()
            folder.mkdir(parents=True, exist_ok=True)
            mark = folder / str(os.getpid())
            mark.touch()
            _registered = mark
            atexit.register(_unregister)
        except OSError:
            pass  # a read-only cache: share as if alone
    try:
        yield core_share()
    finally:
        _depth -= 1
        if _depth == 0:
            _unregister()


def _unregister() -> None:
    global _registered
    if _registered is not None:
        with contextlib.suppress(OSError):
            _registered.unlink()
        _registered = None


def live_processes() -> int:
    """How many faceorganizer processes share the cores now (this one included)."""
    count = 1
    with contextlib.suppress(OSError):
        for entry in os.scandir(_folder()):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            if process_running(int(entry.name)):
                count += 1
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    return count


def core_share() -> int:
    """This process's share of the cores, were it to compute now."""
    return max(1, available_cores() // live_processes())
