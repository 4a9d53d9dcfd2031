"""Thumbnails for the views: made on a thread pool, cached on disk and in memory.

Views ask for a pixmap; if it is not in memory yet they get ``None`` (and draw a
placeholder), the thumbnail is made off the GUI thread, and ``ready`` says when to
repaint. Only what a view actually draws is ever asked for. A thumbnail that cannot be
made is marked failed (the view draws its placeholder for good), whatever went wrong.
The disk cache is pruned once, in the background, when the service starts.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from faceorganizer.imaging import ImageError
from faceorganizer.store.read import FaceSummary
from faceorganizer.thumbnails import PruneResult, ThumbnailCache

MEMORY_ITEMS = 3000
# What an unreadable or damaged photo raises: the thumbnail fails quietly. Anything else
# is a bug or an exhausted machine, and is logged with its traceback; it fails too.
EXPECTED_ERRORS = (ImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)

log = logging.getLogger(__name__)


def to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: ``data`` goes away


class _Emitter(QObject):
    done = Signal(str, QImage, bool)
    pruned = Signal(object)  # PruneResult, or None if the prune failed


class _Make(QRunnable):
    """Makes one thumbnail, and always reports: the picture, or a failure."""

    def __init__(self, key: str, make: Callable[[], Image.Image], emitter: _Emitter) -> None:
        super().__init__()
        self.key, self.make, self.emitter = key, make, emitter

    def run(self) -> None:
        image, ok = QImage(), False
        try:
            image, ok = to_qimage(self.make()), True
        except EXPECTED_ERRORS as exc:
            log.debug("no thumbnail %s: %s", self.key, exc)
        except Exception:
            log.exception("making the thumbnail %s failed unexpectedly", self.key)
        finally:
            self.emitter.done.emit(self.key, image, ok)


class _Prune(QRunnable):
    """Prunes the disk cache, and always reports."""

    def __init__(self, cache: ThumbnailCache, stop: threading.Event, emitter: _Emitter) -> None:
        super().__init__()
        self.cache, self.stop, self.emitter = cache, stop, emitter

    def run(self) -> None:
        result: PruneResult | None = None
        try:
            result = self.cache.prune(stop=self.stop.is_set)
        except Exception:
            log.exception("pruning the thumbnail cache %s failed", self.cache.folder)
        finally:
            self.emitter.pruned.emit(result)


class ThumbnailService(QObject):
    ready = Signal(str)
    pruned = Signal(object)  # the disk cache was pruned: a PruneResult, or None if that failed

    def __init__(self, cache: ThumbnailCache | None = None, parent: QObject | None = None, *,
                 prune: bool = True) -> None:
        super().__init__(parent)
        self.cache = cache or ThumbnailCache()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._pixmaps: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._pending: set[str] = set()
        self._emitter = _Emitter()
        self._emitter.done.connect(self._deliver)
        self._emitter.pruned.connect(self.pruned)
        self._stop = threading.Event()
        if prune:
            self.pool.start(_Prune(self.cache, self._stop, self._emitter))

    def face(self, face: FaceSummary, size: int, ratio: float = 1.0) -> QPixmap | None:
        pixels = int(size * ratio)
        key = f"face:{face.id}:{pixels}:{','.join(str(round(v)) for v in face.box)}"
        return self._get(key, ratio, lambda: self.cache.face(face.photo, face.box, pixels))

    def photo(self, path: str, size: int, ratio: float = 1.0) -> QPixmap | None:
        pixels = int(size * ratio)
        return self._get(f"photo:{path}:{pixels}", ratio, lambda: self.cache.photo(path, pixels))

    def failed(self, key: str) -> bool:
        return key in self._pixmaps and self._pixmaps[key] is None

    def pending(self, key: str) -> bool:
        """Whether the thumbnail ``key`` is being made (it ends ready or failed)."""
        return key in self._pending

    def _get(self, key: str, ratio: float, make: Callable[[], Image.Image]) -> QPixmap | None:
        if key in self._pixmaps:
            self._pixmaps.move_to_end(key)
            pixmap = self._pixmaps[key]
            if pixmap is not None:
                pixmap.setDevicePixelRatio(ratio)
            return pixmap
        if key not in self._pending:
            self._pending.add(key)
            self.pool.start(_Make(key, make, self._emitter))
        return None

    def _deliver(self, key: str, image: QImage, ok: bool) -> None:
        self._pending.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image) if ok else None
        while len(self._pixmaps) > MEMORY_ITEMS:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key)

    def wait(self) -> None:
        self.pool.waitForDone()

    def close(self) -> None:
        """Finish the work in flight (a prune stops early) and drop the pixmaps (they must
        not outlive the app)."""
        self._stop.set()
        self.pool.waitForDone()
        self._pixmaps.clear()
