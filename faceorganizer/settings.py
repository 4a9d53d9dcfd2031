"""Settings that change what a scan finds: detection, cropping and resource limits."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from faceorganizer.errors import FaceorganizerError


class SettingsError(FaceorganizerError):
    """A setting has a value it cannot take."""


DETECTORS = ("retinaface", "mtcnn")


@dataclass(frozen=True)
class ScanSettings:
    """How photos are read and faces are detected and cropped.

    ``detection_size``: MTCNN runs on a copy whose long side is at most this many
    pixels; faces smaller than about 1/32 of that copy's long side are not found.
    ``min_face_size``: faces narrower than this, in the photo's own pixels, are dropped.
    ``min_probability``: faces MTCNN is less sure of are dropped.
    ``margin``: pixels of context around the face in the 160 px crop (facenet-pytorch's
    meaning of margin).
    ``max_megapixels``: larger images are refused as possible decompression bombs.
    ``detector``: "retinaface" or "mtcnn"; photos analysed by the other one are detected
    again by the next scan (face ids and decisions kept where boxes overlap).
    """

    detection_size: int = 640
    min_face_size: int = 20
    min_probability: float = 0.9
    margin: int = 20
    max_megapixels: float = 120.0
    embed_batch: int = 32
    workers: int = 2
    detector: str = "retinaface"

    def __post_init__(self) -> None:
        checks = {
            "detection_size": 160 <= self.detection_size <= 4096,
            "min_face_size": 12 <= self.min_face_size <= 2000,
            "min_probability": 0.0 <= self.min_probability < 1.0,
            "margin": 0 <= self.margin < 160,
            "max_megapixels": 1 <= self.max_megapixels <= 2000,
            "embed_batch": 1 <= self.embed_batch <= 1024,
            "workers": 1 <= self.workers <= 32,
            "detector": self.detector in DETECTORS,
        }
        for name, ok in checks.items():
            if not ok:
                raise SettingsError(f"setting {name}={getattr(self, name)!r} is out of range")

    def with_overrides(self, **changes: Any) -> ScanSettings:
        """A copy with the given settings changed (``None`` values are ignored)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
