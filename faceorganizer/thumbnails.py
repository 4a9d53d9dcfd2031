"""Small pictures of faces and photos, cached on disk in the user cache folder.

A face thumbnail is a square around the face box with some context, cut from a
decode just large enough (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that
suffices), so that making one is quick and a library's worth of them is made
once. Cache entries are named after the photo's path, modification time, the box
and the size, so a changed photo gets new thumbnails.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image

from faceorganizer.imaging import ImageError, decode_at_scale, read_info
from faceorganizer.paths import cache_dir

CONTEXT = 0.35  # of the box side, added around the face


def _key(*parts: object) -> str:
    return hashlib.sha1("\x00".join(str(p) for p in parts).encode()).hexdigest()


class ThumbnailCache:
    """Face and photo thumbnails; safe to use from several threads."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir() / "thumbnails"

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.jpg"

    def _cached(self, key: str, make) -> Image.Image:
        path = self._path(key)
        try:
            with Image.open(path) as image:
                image.load()
                return image.convert("RGB")
        except (OSError, ValueError):
            pass
        image = make()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            image.save(temporary, format="JPEG", quality=88)
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only or full cache only costs speed
        return image

    @staticmethod
    def _read(photo: str) -> bytes:
        try:
            return Path(photo).read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read {photo}: {exc.strerror or exc}") from exc

    def face(self, photo: str, box: tuple[float, float, float, float], size: int) -> Image.Image:
        """A ``size`` x ``size`` picture of the face at ``box`` (displayed-photo pixels)."""
        mtime = _mtime(photo)
        key = _key("face", photo, mtime, *(round(v) for v in box), size)
        return self._cached(key, lambda: face_image(self._read(photo), box, size))

    def photo(self, photo: str, size: int) -> Image.Image:
        """The photo with its long side ``size`` pixels, as a person sees it."""
        key = _key("photo", photo, _mtime(photo), size)
        return self._cached(key, lambda: photo_image(self._read(photo), size))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def face_image(data: bytes, box: tuple[float, float, float, float], size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        info = read_info(opened)
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


def photo_image(data: bytes, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        info = read_info(opened)
    image, _ = decode_at_scale(data, info, min(1.0, size / max(info.width, info.height, 1)))
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return image
