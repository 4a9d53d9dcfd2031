"""The thumbnail service: every thumbnail ends made or failed, and the disk cache is pruned."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from faceorganizer.gui.thumbs import ThumbnailService
from faceorganizer.thumbnails import PruneResult, ThumbnailCache
from tests.fakes import face_image

pytestmark = pytest.mark.gui


class BrokenCache(ThumbnailCache):
    """Makes photo thumbnails, except that the photos named in ``errors`` raise."""

    def __init__(self, folder: Path, errors: dict[str, BaseException]) -> None:
        super().__init__(folder)
        self.errors = errors

    def photo(self, photo: str, size: int) -> Image.Image:
        if Path(photo).name in self.errors:
            raise self.errors[Path(photo).name]
        return super().photo(photo, size)


def ask(qtbot, service: ThumbnailService, photo: Path) -> str:
    """Asks for a photo's thumbnail and waits until it is made or failed; its key."""
    key = f"photo:{photo}:64"
    with qtbot.waitSignal(service.ready, timeout=10_000, check_params_cb=lambda ready: ready == key):
        assert service.photo(str(photo), 64) is None
        assert service.pending(key)
    return key


@pytest.mark.parametrize("error", [
    RuntimeError("a bug"),
    MemoryError(),
    Image.DecompressionBombError("too many pixels"),
    ValueError("damaged"),
])
def test_a_thumbnail_that_raises_anything_is_failed_not_pending_forever(
        qtbot, tmp_path: Path, caplog: pytest.LogCaptureFixture, error: BaseException) -> None:
    photo, good = face_image(tmp_path / "bad.jpg"), face_image(tmp_path / "good.jpg")
    service = ThumbnailService(BrokenCache(tmp_path / "thumbs", {"bad.jpg": error}), prune=False)
    try:
        with caplog.at_level(logging.DEBUG, logger="faceorganizer.gui.thumbs"):
            key = ask(qtbot, service, photo)
        assert service.failed(key) and not service.pending(key)
        assert service.photo(str(photo), 64) is None and not service.pending(key)  # not tried again
        unexpected = [r for r in caplog.records if r.levelno >= logging.ERROR]
        if isinstance(error, (RuntimeError, MemoryError)):
            assert len(unexpected) == 1 and unexpected[0].exc_info is not None
            assert key in unexpected[0].getMessage()
        else:
            assert not unexpected

        key = ask(qtbot, service, good)  # the service still works
        pixmap = service.photo(str(good), 64)
        assert not service.failed(key) and pixmap is not None and max(pixmap.width(), pixmap.height()) == 64
    finally:
        service.close()


def test_the_service_prunes_the_disk_cache_in_the_background_when_it_starts(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    for i in range(6):
        path = folder / "ab" / f"ab{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - 1000 * (6 - i),) * 2)
    service = ThumbnailService(ThumbnailCache(folder, max_bytes=3000))
    try:
        with qtbot.waitSignal(service.pruned, timeout=10_000) as blocker:
            pass  # the result comes through the event loop, never before it runs
        result = blocker.args[0]
        assert isinstance(result, PruneResult) and result.removed == 4 and result.kept_bytes == 2000
        assert sorted(p.name for p in (folder / "ab").iterdir()) == ["ab4.jpg", "ab5.jpg"]
    finally:
        service.close()


class SlowPruneCache(ThumbnailCache):
    """A cache whose prune fails, or waits until it is told to stop."""

    def __init__(self, folder: Path, fail: bool) -> None:
        super().__init__(folder)
        self.fail = fail
        self.stopped = False

    def prune(self, max_bytes: int | None = None, stop: Callable[[], bool] | None = None) -> PruneResult:
        assert stop is not None
        if self.fail:
            raise RuntimeError("the prune broke")
        deadline = time.monotonic() + 10
        while not stop() and time.monotonic() < deadline:
            time.sleep(0.001)  # a long prune on the pool thread; the test itself never sleeps
        self.stopped = stop()
        return PruneResult()


def test_a_failed_prune_is_logged_and_reported(qtbot, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    service = ThumbnailService(SlowPruneCache(tmp_path / "thumbs", fail=True))
    try:
        with qtbot.waitSignal(service.pruned, timeout=10_000) as blocker:
            pass
        assert blocker.args == [None]
        assert any(r.exc_info and "pruning the thumbnail cache" in r.getMessage() for r in caplog.records)
    finally:
        service.close()


def test_closing_the_service_stops_a_prune_in_flight(tmp_path: Path) -> None:
    cache = SlowPruneCache(tmp_path / "thumbs", fail=False)
    service = ThumbnailService(cache)
    service.close()
    assert cache.stopped
