"""Where faceorganizer keeps its files: the platform's data, cache and config folders.

``FACEORGANIZER_DATA_DIR`` and ``FACEORGANIZER_CACHE_DIR`` override the platform
folders (tests and portable installs use them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import platformdirs

from faceorganizer import APP_NAME

LIBRARY_FILENAME = "library.sqlite"


def data_dir() -> Path:
    """The user's data folder for faceorganizer (libraries live here by default)."""
    override = os.environ.get("FACEORGANIZER_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The user's cache folder: converted weights, thumbnails. Safe to delete."""
    override = os.environ.get("FACEORGANIZER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_library() -> Path:
    """The library used when none is named."""
    return data_dir() / LIBRARY_FILENAME


def weights_dir() -> Path:
    """Converted model weights, made once from the downloaded original."""
    return cache_dir() / "weights"


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute and normalised (``..`` removed), symlinks kept as given."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


@contextmanager
def written_atomically(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``path`` in one step when the block ends
    without an error: a crash leaves the old file (or none), never half a new one. The
    temporary file is unique in the same folder and flushed to the disk before the rename; a
    file replaced keeps its permissions."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
