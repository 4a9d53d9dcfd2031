"""Reading photos: formats, EXIF orientation and dates, reduced JPEG decoding, size limits.

Every failure becomes an :class:`ImageError` whose message says, in plain words,
what is wrong with the file; nothing else escapes.
"""

from __future__ import annotations

import io
import warnings
import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, UnidentifiedImageError, features

try:  # HEIC/HEIF (iPhone photos) through the pillow-heif plugin.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF_SUPPORTED = False

# faceorganizer checks the pixel count itself (ImageError with a clear reason), so
# Pillow's own warning-then-error check is turned off.
Image.MAX_IMAGE_PIXELS = None

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | ({".heic", ".heif", ".hif"} if HEIF_SUPPORTED else set())
    | ({".avif"} if features.check("avif") else set())
)

_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132


class ImageError(Exception):
    """A photo that cannot be used; ``str(error)`` is the reason shown to the user."""


@dataclass(frozen=True)
class PhotoInfo:
    """What a photo's header says, in the orientation a person sees it."""

    width: int
    height: int
    format: str
    orientation: int
    taken_at: datetime | None


@dataclass(frozen=True)
class DecodedPhoto:
    """A photo decoded for face detection.

    ``detection`` is an RGB copy whose long side is at most the detection size;
    ``source`` is the largest decode made so far (for crops). ``*_scale`` is that
    image's pixels per pixel of the full photo (1.0 = full resolution).
    """

    info: PhotoInfo
    detection: Image.Image
    detection_scale: float
    source: Image.Image
    source_scale: float


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # a broken EXIF block is not worth failing a photo for
        sub = {}
    for value in (sub.get(_DATETIME_ORIGINAL), sub.get(_DATETIME_DIGITIZED), exif.get(_DATETIME)):
        if isinstance(value, bytes):
            value = value.decode("ascii", "ignore")
        if not isinstance(value, str):
            continue
        try:
            return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
    return None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit greyscale is scaled (not clipped), transparency goes on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        lo, hi = float(array.min()), float(array.max())
        scaled = (array - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(array)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image, or an image format faceorganizer cannot read") from None
    except Image.DecompressionBombError as exc:  # pragma: no cover - checks are off, see above
        raise ImageError(str(exc)) from None
    except (OSError, SyntaxError, ValueError, zlib.error) as exc:
        raise ImageError(f"damaged image header ({exc})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the "
            f"{max_pixels / 1e6:.0f}-megapixel limit (a possible decompression bomb; the "
            "limit is the max_megapixels setting)")
    return image


def _decode(image: Image.Image, target_long_side: int | None) -> tuple[Image.Image, float]:
    """Decode (a JPEG at the smallest DCT scale that still covers the target), to RGB."""
    full_width = image.size[0]
    if target_long_side and image.format == "JPEG":
        width, height = image.size
        scale = min(1.0, target_long_side / max(width, height))
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the pixels are fine
            image.load()
            rgb = to_rgb(image)
    except (OSError, SyntaxError, ValueError, zlib.error, EOFError) as exc:
        message = str(exc)
        if "truncated" in message:
            raise ImageError("the file is truncated (damaged, or still being copied)") from None
        raise ImageError(f"damaged image data ({message})") from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    return rgb, rgb.size[0] / full_width


def read_info(image: Image.Image, fallback_orientation: int | None = None) -> PhotoInfo:
    """Size in displayed orientation, format, orientation and date taken, from the header.
    ``fallback_orientation`` (from XMP, say a sidecar's) counts where the EXIF has none."""
    try:
        exif = image.getexif()
        orientation = int(exif.get(_ORIENTATION, fallback_orientation or 1) or 1)
    except Exception:
        exif, orientation = Image.Exif(), fallback_orientation or 1
    if orientation not in range(1, 9):
        orientation = 1
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return PhotoInfo(width=width, height=height, format=image.format or "unknown",
                     orientation=orientation, taken_at=_taken_at(exif))


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    if orientation == 1:
        return image
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}[orientation]
    return image.transpose(method)


def _shrink(image: Image.Image, long_side: int) -> tuple[Image.Image, float]:
    width, height = image.size
    factor = long_side / max(width, height)
    if factor >= 1.0:
        return image, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), size[0] / width


def decode_for_detection(data: bytes, *, detection_size: int, max_megapixels: float = 120.0,
                         fallback_orientation: int | None = None) -> DecodedPhoto:
    """Decode a photo's bytes for detection: EXIF-oriented, reduced where possible."""
    image = _open(data, int(max_megapixels * 1e6))
    info = read_info(image, fallback_orientation)
    source, source_scale = _decode(image, detection_size)
    source = _orient(source, info.orientation)
    detection, factor = _shrink(source, detection_size)
    return DecodedPhoto(info=info, detection=detection, detection_scale=source_scale * factor,
                        source=source, source_scale=source_scale)


def decode_at_scale(data: bytes, info: PhotoInfo, scale: float,
                    max_megapixels: float = 120.0) -> tuple[Image.Image, float]:
    """Decode again with at least ``scale`` pixels per photo pixel (JPEGs only decode less)."""
    image = _open(data, int(max_megapixels * 1e6))
    target = None if scale >= 1.0 else int(np.ceil(max(info.width, info.height) * scale))
    rgb, actual = _decode(image, target)
    return _orient(rgb, info.orientation), actual


def open_oriented(data: bytes, max_megapixels: float = 120.0,
                  fallback_orientation: int | None = None) -> Image.Image:
    """The whole photo at full resolution, RGB, as a person sees it."""
    image = _open(data, int(max_megapixels * 1e6))
    info = read_info(image, fallback_orientation)
    rgb, _ = _decode(image, None)
    return _orient(rgb, info.orientation)
