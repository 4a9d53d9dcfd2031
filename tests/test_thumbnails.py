"""The thumbnail disk cache: entries reused, kept under a size cap, least recently used first."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from faceorganizer import thumbnails
from faceorganizer.thumbnails import PRUNE_TO, STALE_SECONDS, PruneResult, ThumbnailCache
from tests.fakes import face_image

DAY = 24 * 3600


def entry(folder: Path, name: str, size: int, age: float) -> Path:
    """A cache file of ``size`` bytes last used ``age`` seconds ago (``name`` is its key)."""
    path = folder / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def files(folder: Path) -> set[str]:
    return {path.name for path in folder.rglob("*") if path.is_file()}


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.jpg"))


def test_the_least_recently_used_entries_go_first_until_the_cache_is_under_its_cap(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    for i in range(10):  # a0.jpg is the oldest, a9.jpg the newest; spread over the sub-folders
        entry(folder, f"{i:x}{i}.jpg", 1000, age=DAY * (10 - i))
    result = ThumbnailCache(folder, max_bytes=6000).prune()
    assert files(folder) == {f"{i:x}{i}.jpg" for i in range(5, 10)}
    assert disk_bytes(folder) <= 6000 * PRUNE_TO
    assert result == PruneResult(removed=5, removed_bytes=5000, kept=5, kept_bytes=5000, stale=0)


def test_a_cache_under_its_cap_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    for i in range(3):
        entry(folder, f"b{i}.jpg", 1000, age=DAY * 100)
    assert ThumbnailCache(folder, max_bytes=3000).prune() == PruneResult(kept=3, kept_bytes=3000)
    assert len(files(folder)) == 3


def test_reading_an_entry_makes_it_recent_so_it_survives(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    original = thumbnails.photo_image

    def counted(data: bytes, orientation: int | None, size: int) -> Image.Image:
        made.append(size)
        return original(data, orientation, size)

    monkeypatch.setattr(thumbnails, "photo_image", counted)
    cache = ThumbnailCache(tmp_path / "thumbs")
    photos = [str(face_image(tmp_path / f"p{i}.jpg", [(50 + 40 * i, 50, 10 * i)])) for i in range(4)]
    for photo in photos:
        cache.photo(photo, 64)
    entries = sorted((tmp_path / "thumbs").rglob("*.jpg"))
    assert len(made) == 4 and len(entries) == 4
    for i, path in enumerate(entries):  # all made long ago, the order shuffled by name
        os.utime(path, (time.time() - DAY * (i + 2),) * 2)

    cache.photo(photos[0], 64)  # a hit: read from disk, not made again
    assert len(made) == 4
    largest = max(path.stat().st_size for path in entries)
    cache.max_bytes = int(largest / PRUNE_TO) + 1  # room for one entry only
    assert cache.prune().kept == 1
    cache.photo(photos[0], 64)
    assert len(made) == 4  # it is still there
    assert disk_bytes(tmp_path / "thumbs") <= cache.max_bytes


def test_stale_temporary_files_of_crashed_writers_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    entry(folder, "c0.jpg", 10, age=0)
    entry(folder, "c1.123-4.tmp", 10, age=STALE_SECONDS + 60)  # its writer crashed
    entry(folder, "c2.456-7.tmp", 10, age=1)                   # its writer is at work
    result = ThumbnailCache(folder).prune()
    assert files(folder) == {"c0.jpg", "c2.456-7.tmp"}
    assert (result.stale, result.removed, result.kept) == (1, 0, 1)


def test_a_missing_cache_folder_is_nothing_to_prune(tmp_path: Path) -> None:
    assert ThumbnailCache(tmp_path / "nowhere", max_bytes=0).prune() == PruneResult()
    assert not (tmp_path / "nowhere").exists()


def test_files_that_vanish_meanwhile_do_not_stop_a_prune(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Another faceorganizer prunes the same folder at the same time: some files go between
    # listing and reading their size, others between reading their size and removing them.
    folder = tmp_path / "thumbs"
    for i in range(20):
        entry(folder, f"d{i:02d}.jpg", 1000, age=DAY * (20 - i))
    entry(folder, "d99.1-1.tmp", 10, age=2 * STALE_SECONDS)
    listing, scan = thumbnails._entries, ThumbnailCache._scan

    def racing_listing(path: Path) -> list[os.DirEntry[str]]:
        found = listing(path)
        for item in found:
            if item.name.endswith(("0.jpg", "3.jpg", ".tmp")):
                os.unlink(item.path)
        return found

    def racing_scan(self: ThumbnailCache, stop: Callable[[], bool]) -> tuple[list[Any], int]:
        entries, stale = scan(self, stop)
        for name in ("d01.jpg", "d05.jpg", "d12.jpg"):
            (folder / name[:2] / name).unlink()
        return entries, stale

    monkeypatch.setattr(thumbnails, "_entries", racing_listing)
    monkeypatch.setattr(ThumbnailCache, "_scan", racing_scan)
    result = ThumbnailCache(folder, max_bytes=10_000).prune()
    assert result.removed == 7 and result.kept_bytes == 9000
    assert files(folder) == {f"d{i:02d}.jpg" for i in (9, 11, 14, 15, 16, 17, 18, 19)}

    def vanishing_folder(path: Path) -> list[os.DirEntry[str]]:
        found = listing(path)
        if path == folder:
            shutil.rmtree(folder)  # the whole cache is deleted right after it is listed
        return found

    monkeypatch.setattr(thumbnails, "_entries", vanishing_folder)
    monkeypatch.setattr(ThumbnailCache, "_scan", scan)
    assert ThumbnailCache(folder, max_bytes=0).prune() == PruneResult()


def test_a_read_only_cache_is_read_and_left_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "thumbs"
    cache = ThumbnailCache(folder, max_bytes=0)
    photo = str(face_image(tmp_path / "p.jpg"))
    made = cache.photo(photo, 64)
    entry(folder, "e0.1-1.tmp", 10, age=2 * STALE_SECONDS)
    before = files(folder)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(os, "utime", refused)
    monkeypatch.setattr(Path, "unlink", refused)
    assert cache.photo(photo, 64).size == made.size  # a hit; its time cannot be updated
    result = cache.prune()
    assert (result.removed, result.stale, result.kept) == (0, 0, 1)
    assert files(folder) == before


def test_a_prune_can_be_stopped(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    for i in range(5):
        entry(folder, f"f{i}.jpg", 1000, age=DAY * (5 - i))
    assert ThumbnailCache(folder, max_bytes=0).prune(stop=lambda: True).removed == 0
    assert len(files(folder)) == 5
    assert ThumbnailCache(folder).prune(max_bytes=0).removed == 5
