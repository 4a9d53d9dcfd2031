"""From bytes to faces: where crops come from, and what the real models find."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceorganizer import analysis
from faceorganizer.analysis import analyze, crop_box
from faceorganizer.settings import ScanSettings
from tests.fakes import FakeDetector


def jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **options)
    return buffer.getvalue()


def square_photo(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    image = Image.new("RGB", size, (40, 60, 80))
    image.paste((255, 255, 255), box)
    image.paste((200, 30, 30), (box[0] + 8, box[1] + 8, box[2] - 8, box[3] - 8))
    return image


def test_crop_box_adds_facenet_pytorch_margin_and_clips() -> None:
    assert crop_box((100, 100, 200, 200), 0, 1000, 1000) == (100, 100, 200, 200)
    # margin 32 of 160: the box fills 128 px, so 100 px of box gets 25 px around it.
    assert crop_box((100, 100, 200, 200), 32, 1000, 1000) == (87, 87, 212, 212)
    assert crop_box((0, 0, 100, 100), 32, 110, 110) == (0, 0, 110, 110)


def test_big_faces_are_cropped_from_the_reduced_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    photo = jpeg(square_photo((4000, 3000), (1000, 1000, 2200, 2200)))
    monkeypatch.setattr(analysis, "decode_at_scale", lambda *a, **k: pytest.fail("decoded twice"))
    found = analyze(photo, FakeDetector(), ScanSettings(min_face_size=20))
    (face,) = found.faces
    assert face.crop.shape == (160, 160, 3)
    x1, y1, x2, y2 = face.detection.box  # in full-resolution pixels
    assert abs(x1 - 1000) < 12 and abs(x2 - 2200) < 12 and abs(y1 - 1000) < 12 and abs(y2 - 2200) < 12
    centre = face.crop[80, 80]
    assert centre[0] > 150 and centre[1] < 90


def test_small_faces_are_cropped_from_a_finer_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 130 px face in a 4000 px photo: 21 px in the 640 px detection copy, 32 px in
    # the 1/4 decode; its crop must come from the full-resolution pixels.
    photo = jpeg(square_photo((4000, 3000), (2000, 1500, 2130, 1630)))
    scales: list[float] = []
    real = analysis.decode_at_scale

    def spy(data, info, scale, max_megapixels):
        scales.append(scale)
        return real(data, info, scale, max_megapixels)

    monkeypatch.setattr(analysis, "decode_at_scale", spy)
    found = analyze(photo, FakeDetector(), ScanSettings(min_face_size=20))
    assert len(found.faces) == 1
    assert scales and scales[0] == 1.0
    crop = found.faces[0].crop
    # Sharp: the white border and the red middle are both crisp in the 160 px crop.
    assert crop[80, 80][0] > 170 and crop[80, 80][1] < 70


def test_faces_below_the_minimum_size_or_probability_are_dropped() -> None:
    photo = jpeg(square_photo((800, 600), (100, 100, 160, 160)))
    assert len(analyze(photo, FakeDetector(), ScanSettings(min_face_size=20)).faces) == 1
    assert analyze(photo, FakeDetector(), ScanSettings(min_face_size=80)).faces == []


def test_boxes_are_in_the_orientation_a_person_sees() -> None:
    # Stored sideways (orientation 6 = rotate 90° clockwise to view).
    stored = square_photo((600, 400), (50, 300, 110, 360))
    exif = Image.Exif()
    exif[0x0112] = 6
    found = analyze(jpeg(stored, exif=exif), FakeDetector(), ScanSettings())
    assert (found.info.width, found.info.height) == (400, 600)
    (face,) = found.faces
    x1, y1, x2, y2 = face.detection.box
    # Stored (x, y) -> displayed (400 - y, x): the face lands near the top left.
    assert abs(x1 - 40) <= 3 and abs(y1 - 50) <= 3 and abs(x2 - 100) <= 3 and abs(y2 - 110) <= 3


@pytest.mark.slow
def test_real_models_find_and_embed_the_faces_of_one_person(data_dir: Path, real_models) -> None:
    """Two photos of one person are closer than photos of two people (FaceNet's promise)."""
    def embed(name: str) -> np.ndarray:
        found = analyze((data_dir / "album" / name).read_bytes(), real_models.detector,
                        ScanSettings())
        assert len(found.faces) == 1
        vector = real_models.embedder.embed(np.stack([found.faces[0].crop]))[0]
        assert vector.dtype == np.float32 and vector.shape == (512,)
        assert abs(np.linalg.norm(vector) - 1) < 1e-5
        return vector

    jolie_1, jolie_2, musk = embed("img1.jpg"), embed("img2.jpg"), embed("img18.jpg")
    same = np.sum((jolie_1 - jolie_2) ** 2)
    different = np.sum((jolie_1 - musk) ** 2)
    assert same < 1.0 < different
