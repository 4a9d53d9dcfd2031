"""Walking a folder tree for photos: hidden entries skipped, symlink loops and
duplicate links visited once, unreadable folders reported rather than fatal."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from faceorganizer.imaging import IMAGE_EXTENSIONS
from faceorganizer.sidecars import key_of, sidecar_names


@dataclass(frozen=True)
class FoundFile:
    """A photo file. ``path`` is always valid text; ``name_error`` is set when the real
    name is not valid UTF-8 (``path`` then shows the bad bytes as ``\\xNN``)."""

    path: str
    size: int
    mtime_ns: int
    name_error: str | None = None
    sidecar: str | None = None  # its XMP sidecar (faceorganizer.sidecars), if it has one
    sidecar_key: str | None = None  # changes whenever the sidecar does


@dataclass(frozen=True)
class WalkProblem:
    """A folder that could not be read."""

    path: str
    reason: str


def display_path(path: str) -> tuple[str, str | None]:
    """(text safe to store and show, reason when the name is not valid UTF-8)."""
    try:
        path.encode("utf-8")
        return path, None
    except UnicodeEncodeError:
        raw = os.fsencode(path)
        shown = raw.decode("utf-8", "backslashreplace")
        return shown, ("the file name is not valid UTF-8, so it cannot be stored or shown "
                       "reliably; rename the file (e.g. with convmv) and scan again")


def _hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    if sys.platform == "win32":  # pragma: no cover - Windows only
        try:
            attrs = entry.stat(follow_symlinks=False).st_file_attributes  # type: ignore[attr-defined]
        except OSError:
            return False
        return bool(attrs & stat.FILE_ATTRIBUTE_HIDDEN)  # type: ignore[attr-defined]
    return False


def _sidecar(name: str, listing: dict[str, os.DirEntry[str]]) -> tuple[str, str] | None:
    """(path, key) of a photo's sidecar, from its folder's listing (no extra lookups)."""
    for candidate in sidecar_names(name):
        entry = listing.get(candidate)
        if entry is None:
            continue
        try:
            st = None if entry.is_dir(follow_symlinks=True) else entry.stat(follow_symlinks=True)
        except OSError:
            continue
        path, name_error = display_path(entry.path)
        return None if name_error else (path, key_of(entry.name, st))
    return None


def walk(root: str) -> Iterator[FoundFile | WalkProblem]:
    """Photo files under ``root``, in a stable order."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            key = (info.st_dev, info.st_ino)
            if key in seen_dirs:  # a symlink loop, or a second link to the same folder
                continue
            seen_dirs.add(key)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield WalkProblem(folder, exc.strerror or str(exc))
            continue
        subfolders = []
        xmp = {e.name.lower(): e for e in entries if e.name.lower().endswith(".xmp")}
        for entry in entries:
            if _hidden(entry):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(entry.path)
                    continue
                if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
                    continue
                if not entry.is_file(follow_symlinks=True):
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # e.g. a dangling symlink: nothing to scan
            file_key = (st.st_dev, st.st_ino)
            if file_key in seen_files:
                continue
            seen_files.add(file_key)
            path, name_error = display_path(entry.path)
            sidecar = _sidecar(entry.name, xmp)
            yield FoundFile(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns,
                            name_error=name_error, sidecar=sidecar[0] if sidecar else None,
                            sidecar_key=sidecar[1] if sidecar else None)
        stack.extend(reversed(subfolders))
