"""The interfaces the scan depends on: a face detector and a face embedder.

Tests swap in fakes that honour these; the real ones are in ``detector`` and ``embedder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from faceorganizer.space import EmbeddingSpace

EMBEDDING_SIZE = 512
CROP_SIZE = 160


@dataclass(frozen=True)
class Detection:
    """One face: box (x1, y1, x2, y2) and five landmarks (eyes, nose, mouth corners) as
    (x, y), in the pixels of the image given to the detector, and MTCNN's probability."""

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    probability: float

    def scaled(self, factor: float) -> Detection:
        """The same face in an image ``factor`` times as large."""
        return Detection(
            box=(self.box[0] * factor, self.box[1] * factor,
                 self.box[2] * factor, self.box[3] * factor),
            landmarks=tuple((x * factor, y * factor) for x, y in self.landmarks),
            probability=self.probability,
        )

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


class FaceDetector(Protocol):
    """Finds faces in an RGB image. Safe to call from several threads at once."""

    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]: ...


class FaceEmbedder(Protocol):
    """Maps 160x160 RGB face crops (N, 160, 160, 3) uint8 to (N, 512) float32 unit vectors in
    its ``space`` (the weights' id and distance scale, recorded with every embedding)."""

    @property
    def space(self) -> EmbeddingSpace: ...

    def embed(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Models:
    """The pair a scan needs."""

    detector: FaceDetector
    embedder: FaceEmbedder
