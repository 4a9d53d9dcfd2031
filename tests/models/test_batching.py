"""Detection batched across the scan's worker threads (for GPUs): each photo gets its own faces."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from faceorganizer.models.base import Detection
from faceorganizer.models.batching import BatchingDetector


class Recording:
    """Finds one "face" whose box encodes the image's width; records the batches it ran."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]:
        return self.detect_batch([image], min_face_size=min_face_size)[0]

    def detect_batch(self, images: Sequence[Image.Image], *, min_face_size: float) -> list[list[Detection]]:
        with self.lock:
            self.batches.append(len(images))
        threading.Event().wait(0.02)  # a forward pass
        if any(image.width == 13 for image in images):
            raise RuntimeError("out of memory")
        return [[Detection((0, 0, float(image.width), min_face_size), (), 0.99)] for image in images]


def test_concurrent_calls_are_batched_and_each_gets_its_own_faces() -> None:
    inner = Recording()
    batching = BatchingDetector(inner, batch=4, wait=0.05)
    images = [Image.new("RGB", (20 + i % 3, 10)) for i in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda image: batching.detect(image, min_face_size=7.0), images))
    assert [f[0].box for f in found] == [(0, 0, float(20 + i % 3), 7.0) for i in range(12)]
    assert sum(inner.batches) == 12 and max(inner.batches) > 1


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_calls_still_work() -> None:
    batching = BatchingDetector(Recording(), batch=2, wait=0.05)
    with ThreadPoolExecutor(max_workers=2) as pool:
        bad = pool.submit(batching.detect, Image.new("RGB", (13, 5)), min_face_size=1.0)
        with pytest.raises(RuntimeError, match="out of memory"):
            bad.result()
    assert batching.detect(Image.new("RGB", (30, 5)), min_face_size=1.0)[0].box[2] == 30.0


@pytest.mark.slow
def test_retinaface_batches_find_what_single_photos_find(data_dir: Path) -> None:
    from faceorganizer.models.retinaface import RetinaFaceDetector
    from faceorganizer.models.retinaface_weights import resolve_detector

    detector = RetinaFaceDetector("cpu", resolve_detector(), runtime="torch")
    images = []
    for name in ["img1.jpg", "couple.jpg", "img30.jpg", "selfie-many-people.jpg"]:
        with Image.open(data_dir / "album" / name) as image:  # one size, as from one camera
            images.append(image.convert("RGB").resize((640, 480)))
    single = [detector.detect(image, min_face_size=20) for image in images]
    batching = BatchingDetector(detector, batch=4, wait=0.2)
    with ThreadPoolExecutor(max_workers=4) as pool:
        batched = list(pool.map(lambda image: batching.detect(image, min_face_size=20), images))
    assert max(batching.batches) > 1
    for one, many in zip(single, batched, strict=True):
        assert len(one) == len(many)
        for a, b in zip(sorted(d.box for d in one), sorted(d.box for d in many), strict=True):
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 2.0
