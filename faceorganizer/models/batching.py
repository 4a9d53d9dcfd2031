"""Detection in batches across photos, for GPUs.

The scan's worker threads each ask for one photo's faces. On a GPU one forward pass over
several photos costs little more than over one, so :class:`BatchingDetector` gathers the
requests that arrive together (up to ``batch`` of them, waiting at most ``wait`` seconds
for more once the first is there) and runs them through the detector's ``detect_batch``; each
worker gets its own photo's faces back. Only photos of the same size share a pass, so results
equal the one-photo calls' (tested on the CPU). Used on CUDA and MPS (``models.loader``); the
CPU detects photo by photo.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from faceorganizer.models.base import Detection


class BatchDetector(Protocol):
    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]: ...

    def detect_batch(self, images: Sequence[Image.Image], *,
                     min_face_size: float) -> list[list[Detection]]: ...


@dataclass
class _Request:
    image: Image.Image
    min_face_size: float
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Detection] | None = None
    error: BaseException | None = None


class BatchingDetector:
    """A :class:`~faceorganizer.models.base.FaceDetector` that batches concurrent calls."""

    def __init__(self, detector: BatchDetector, batch: int = 8, wait: float = 0.01) -> None:
        self.detector = detector
        self.batch = batch
        self.wait = wait
        self._lock = threading.Condition()
        self._queue: list[_Request] = []
        self._running = False
        self.batches: list[int] = []  # sizes of the batches run (for tests and benchmarks)

    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]:
        request = _Request(image, min_face_size)
        with self._lock:
            self._queue.append(request)
            self._lock.notify_all()
            leader = not self._running
            if leader:
                self._running = True
        if leader:
            self._lead()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _lead(self) -> None:
        """Run batches until the queue is empty (the thread that found no one running does)."""
        while True:
            with self._lock:
                if len(self._queue) < self.batch:
                    self._lock.wait_for(lambda: len(self._queue) >= self.batch, timeout=self.wait)
                taken = self._queue[:self.batch]
                del self._queue[:self.batch]
                if not taken:
                    self._running = False
                    return
            self._run(taken)

    def _run(self, requests: list[_Request]) -> None:
        # One call per image size (and minimum face size): photos padded to a larger batch size
        # would see zeros beyond their edges and find faces cut by the frame differently, so
        # only photos of one size (one camera's, typically) share a forward pass.
        groups: dict[tuple[float, tuple[int, int]], list[_Request]] = {}
        for request in requests:
            groups.setdefault((request.min_face_size, request.image.size), []).append(request)
        for (size, _), group in groups.items():
            try:
                found = self.detector.detect_batch([r.image for r in group], min_face_size=size)
                for request, faces in zip(group, found, strict=True):
                    request.result = faces
            except BaseException as exc:  # every waiting worker hears of it
                for request in group:
                    request.error = exc
            self.batches.append(len(group))
            for request in group:
                request.done.set()
