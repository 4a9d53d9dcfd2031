"""Small pictures of faces and photos, cached on disk in the user cache folder.

A face thumbnail is a square around the face box with some context, cut from a
decode just large enough (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that
suffices), so that making one is quick and a library's worth of them is made
once. Cache entries are named after the photo's path, modification time, the box
and the size, so a changed photo gets new thumbnails.

The cache is kept under a size cap (``DEFAULT_MAX_BYTES``) by ``prune``, least recently
used first: an entry's modification time is when it was last made or read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from faceorganizer.imaging import ImageError, decode_at_scale, read_info
from faceorganizer.paths import cache_dir
from faceorganizer.sidecars import orientation_hint

CONTEXT = 0.35  # of the box side, added around the face
# A face thumbnail is 5 to 20 kB: 500 MB holds tens of thousands of them, every face of a
# large library at the sizes on screen, while staying a small share of a user's disk.
DEFAULT_MAX_BYTES = 500 * 2**20
PRUNE_TO = 0.9  # a prune goes a little under the cap, so the next one has little to do
STALE_SECONDS = 3600  # a temporary file this old was left by a writer that crashed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneResult:
    """What a prune did: entries and bytes removed and kept, stale temporary files removed."""

    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    stale: int = 0


def _key(*parts: object) -> str:
    return hashlib.sha1("\x00".join(str(p) for p in parts).encode()).hexdigest()


class ThumbnailCache:
    """Face and photo thumbnails; safe to use from several threads."""

    def __init__(self, folder: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = folder or cache_dir() / "thumbnails"
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.jpg"

    def _cached(self, key: str, make) -> Image.Image:
        path = self._path(key)
        try:
            with Image.open(path) as image:
                image.load()
                hit = image.convert("RGB")
        except (OSError, ValueError):
            pass
        else:
            _touch(path)
            return hit
        image = make()
        temporary = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(temporary, format="JPEG", quality=88)
            os.replace(temporary, path)
        except OSError:
            _remove(temporary)  # a read-only or full cache only costs speed
        return image

    def prune(self, max_bytes: int | None = None, stop: Callable[[], bool] | None = None) -> PruneResult:
        """Keep the cache under ``max_bytes`` (``self.max_bytes`` by default): when it is over,
        remove the least recently used entries until it is under ``PRUNE_TO`` of it. Stale
        temporary files go too. Safe while other threads or processes read, write or prune
        the same folder; a missing or read-only folder is left as it is. ``stop`` is asked
        between files and ends the prune early when it returns true."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        stop = stop or (lambda: False)
        entries, stale = self._scan(stop)
        total = sum(size for _, size, _ in entries)
        removed = removed_bytes = 0
        if total > cap:
            target = int(cap * PRUNE_TO)
            for _, size, path in sorted(entries, key=lambda entry: entry[0]):
                if total <= target or stop():
                    break
                if _remove(path):
                    total -= size
                    removed += 1
                    removed_bytes += size
        result = PruneResult(removed=removed, removed_bytes=removed_bytes, kept=len(entries) - removed,
                             kept_bytes=total, stale=stale)
        if removed or stale:
            log.info("thumbnail cache pruned: %d entries (%.1f MB) and %d stale temporary files "
                     "removed, %.1f MB kept", removed, removed_bytes / 2**20, stale, total / 2**20)
        return result

    def _scan(self, stop: Callable[[], bool]) -> tuple[list[tuple[float, int, Path]], int]:
        """The entries as (last used, bytes, path), after removing stale temporary files."""
        entries: list[tuple[float, int, Path]] = []
        stale = 0
        old = time.time() - STALE_SECONDS
        for folder in _entries(self.folder):
            if stop():
                break
            if not _is_dir(folder):
                continue
            for entry in _entries(Path(folder.path)):
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone meanwhile
                if entry.name.endswith(".jpg"):
                    entries.append((info.st_mtime, info.st_size, Path(entry.path)))
                elif entry.name.endswith(".tmp") and info.st_mtime < old and _remove(Path(entry.path)):
                    stale += 1
        return entries, stale

    @staticmethod
    def _read(photo: str) -> bytes:
        try:
            return Path(photo).read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read {photo}: {exc.strerror or exc}") from exc

    @classmethod
    def _read_oriented(cls, photo: str) -> tuple[bytes, int | None]:
        """The photo's bytes and the orientation its XMP gives where its EXIF has none."""
        data = cls._read(photo)
        return data, orientation_hint(data, photo)

    def face(self, photo: str, box: tuple[float, float, float, float], size: int) -> Image.Image:
        """A ``size`` x ``size`` picture of the face at ``box`` (displayed-photo pixels)."""
        mtime = _mtime(photo)
        key = _key("face", photo, mtime, *(round(v) for v in box), size)
        return self._cached(key, lambda: face_image(*self._read_oriented(photo), box, size))

    def photo(self, photo: str, size: int) -> Image.Image:
        """The photo with its long side ``size`` pixels, as a person sees it."""
        key = _key("photo", photo, _mtime(photo), size)
        return self._cached(key, lambda: photo_image(*self._read_oriented(photo), size))


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder``; none if it is missing or cannot be read."""
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _remove(path: Path) -> bool:
    """Remove a file; true if it is gone now (also when another process removed it first)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False  # read-only, or open elsewhere (Windows)
    return True


def _touch(path: Path) -> None:
    """Mark a cache entry as just used, for ``prune`` (a read-only cache keeps its times)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def face_image(data: bytes, orientation: int | None, box: tuple[float, float, float, float],
               size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        info = read_info(opened, orientation)
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * CONTEXT)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    scale = min(1.0, size / max(side, 1.0))
    image, actual = decode_at_scale(data, info, scale)
    width, height = image.size
    span = min(side * actual, width, height)  # the square, shifted to stay inside the photo
    left = min(max(cx * actual - span / 2, 0), width - span)
    top = min(max(cy * actual - span / 2, 0), height - span)
    region = (round(left), round(top), round(left + span), round(top + span))
    return image.crop(region).resize((size, size), Image.Resampling.BILINEAR)


def photo_image(data: bytes, orientation: int | None, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        info = read_info(opened, orientation)
    image, _ = decode_at_scale(data, info, min(1.0, size / max(info.width, info.height, 1)))
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return image
