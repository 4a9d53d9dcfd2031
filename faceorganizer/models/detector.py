"""The MTCNN face detector behind the :class:`~faceorganizer.models.base.FaceDetector` interface."""

from __future__ import annotations

import torch
from PIL import Image

from faceorganizer.models import mtcnn
from faceorganizer.models.base import Detection
from faceorganizer.models.mtcnn_nets import load_nets

# MTCNN is not reliable below this face size in the image it looks at.
MIN_DETECTABLE = 20.0


class MtcnnDetector:
    """facenet-pytorch's MTCNN weights and thresholds, run by :mod:`faceorganizer.models.mtcnn`."""

    def __init__(self, device: torch.device | str = "cpu",
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709) -> None:
        self.device = torch.device(device)
        self.thresholds = thresholds
        self.factor = factor
        self.nets = load_nets(self.device)

    def detect(self, image: Image.Image, *, min_face_size: float = MIN_DETECTABLE) -> list[Detection]:
        found = mtcnn.detect(image, self.nets, min_face_size=max(MIN_DETECTABLE, min_face_size),
                             thresholds=self.thresholds, factor=self.factor, device=self.device)
        return [
            Detection(box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                      landmarks=tuple((float(x), float(y)) for x, y in points),
                      probability=float(p))
            for b, p, points in zip(found.boxes, found.probs, found.points, strict=True)
        ]
