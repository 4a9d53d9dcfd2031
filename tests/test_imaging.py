"""Reading photos: formats, modes, EXIF orientation, reduced decoding, bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceorganizer.imaging import (
    IMAGE_EXTENSIONS,
    ImageError,
    decode_at_scale,
    decode_for_detection,
    open_oriented,
    to_rgb,
)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(width=320, height=200) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=2))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF"])
def test_every_format_decodes_to_rgb(fmt: str) -> None:
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
    decoded = decode_for_detection(encode(gradient(), fmt), detection_size=640)
    assert decoded.detection.mode == "RGB"
    assert (decoded.info.width, decoded.info.height) == (320, 200)
    assert decoded.detection.size == (320, 200)
    # Colours survive (lossy formats within a tolerance): top right is red-ish, blue-free.
    pixel = decoded.detection.getpixel((315, 2))
    assert pixel[0] > 200 and pixel[2] < 60


def test_heic_extension_is_scanned() -> None:
    assert {".heic", ".heif", ".jpg", ".png", ".webp", ".tif", ".bmp", ".gif"} <= IMAGE_EXTENSIONS


def test_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), c) for c in [(255, 0, 0), (0, 0, 255)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_for_detection(buffer.getvalue(), detection_size=640)
    r, _, b = decoded.detection.getpixel((10, 10))
    assert r > 200 and b < 50


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped() -> None:
    array = np.full((50, 80), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    image = Image.fromarray(array)
    assert image.mode.startswith("I;16")
    decoded = decode_for_detection(encode(image, "PNG"), detection_size=640)
    value = decoded.detection.getpixel((5, 5))
    assert value == (128, 128, 128)


def test_rgba_goes_on_white_and_palette_transparency_too() -> None:
    rgba = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert decode_for_detection(encode(rgba, "PNG"), detection_size=640).detection.getpixel(
        (3, 3)) == (255, 255, 255)
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert decode_for_detection(encode(palette, "PNG", transparency=0),
                                detection_size=640).detection.getpixel((3, 3)) == (255, 255, 255)


def test_greyscale_and_cmyk_become_rgb() -> None:
    assert to_rgb(Image.new("L", (4, 4), 100)).getpixel((0, 0)) == (100, 100, 100)
    assert to_rgb(Image.new("CMYK", (4, 4), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif, quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    # A photo as the camera stored it: landscape 300x200 with a red block top-left.
    stored = Image.new("RGB", (300, 200), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 60, 60))
    decoded = decode_for_detection(with_orientation(stored, orientation), detection_size=640)
    rotated = orientation in (5, 6, 7, 8)
    expected = (200, 300) if rotated else (300, 200)
    assert (decoded.info.width, decoded.info.height) == expected
    assert decoded.detection.size == expected
    assert decoded.info.orientation == orientation
    # The red corner lands where the viewer should see it.
    w, h = expected
    corners = {(0, 0): (10, 10), (1, 0): (w - 11, 10), (0, 1): (10, h - 11), (1, 1): (w - 11, h - 11)}
    where = {1: (0, 0), 2: (1, 0), 3: (1, 1), 4: (0, 1), 5: (0, 0), 6: (1, 0), 7: (1, 1), 8: (0, 1)}
    r, _, b = decoded.detection.getpixel(corners[where[orientation]])
    assert r > 200 and b < 60


def test_exif_date_taken_is_read() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2019:07:14 16:05:09"
    decoded = decode_for_detection(encode(gradient(), "JPEG", exif=exif), detection_size=640)
    assert decoded.info.taken_at is not None
    assert decoded.info.taken_at.isoformat() == "2019-07-14T16:05:09"


def test_large_jpeg_is_decoded_reduced_for_detection() -> None:
    big = gradient(4032, 3024)
    decoded = decode_for_detection(encode(big, "JPEG", quality=90), detection_size=640)
    # Draft mode: the DCT decodes at 1/4 (1008 px), not the 12 megapixels, then 640 px.
    assert decoded.source.size == (1008, 756)
    assert decoded.source_scale == pytest.approx(0.25)
    assert max(decoded.detection.size) == 640
    assert decoded.detection_scale == pytest.approx(640 / 4032, rel=1e-3)
    full, scale = decode_at_scale(encode(big, "JPEG"), decoded.info, 1.0)
    assert full.size == (4032, 3024) and scale == 1.0


def test_png_is_shrunk_for_detection() -> None:
    decoded = decode_for_detection(encode(gradient(2000, 1000), "PNG"), detection_size=500)
    assert decoded.detection.size == (500, 250)
    assert decoded.source_scale == 1.0


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"This is a text file, not a photo.\n" * 10, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "not an image"),
])
def test_bad_bytes_give_clear_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        decode_for_detection(data, detection_size=640)


def test_truncated_jpeg_is_reported_as_truncated() -> None:
    data = encode(gradient(800, 600), "JPEG")
    with pytest.raises(ImageError, match="truncated"):
        decode_for_detection(data[: len(data) // 2], detection_size=2000)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # A 1-bit PNG of 20000 x 20000 pixels: tiny on disk, 400 megapixels when decoded.
    bomb = encode(Image.new("1", (20000, 20000)), "PNG", optimize=True)
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match="400 megapixels.*120-megapixel limit"):
        decode_for_detection(bomb, detection_size=640, max_megapixels=120)


def test_open_oriented_is_full_resolution(tmp_path: Path) -> None:
    stored = Image.new("RGB", (300, 200), (0, 0, 255))
    image = open_oriented(with_orientation(stored, 6))
    assert image.size == (200, 300)
