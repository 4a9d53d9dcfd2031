"""Training augmentations of 160x160 face crops: mirror, small crops, colour jitter.

Pure torch (no torchvision, which the app does not ship). Each augmentation is drawn
from a numpy generator, so a seed fixes them all. ``view(crop, index, seed)`` gives
the fixed views a frozen-trunk run precomputes: view 0 is the crop itself, view 1
its mirror image, later views random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from faceorganizer.models.base import CROP_SIZE


@dataclass(frozen=True)
class Augmentation:
    flip: bool = False
    scale: float = 1.0           # side of the cut square, as a fraction of the crop
    left: float = 0.0            # where it is cut: 0 = left/top edge, 1 = right/bottom
    top: float = 0.0
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0


@dataclass(frozen=True)
class AugmentSettings:
    """How strong the random augmentations are."""

    min_scale: float = 0.85       # small crops: keep at least 85% of the side
    jitter: float = 0.2           # brightness, contrast and saturation factors in 1 +- jitter

    def draw(self, rng: np.random.Generator) -> Augmentation:
        j = self.jitter
        return Augmentation(
            flip=bool(rng.random() < 0.5), scale=float(rng.uniform(self.min_scale, 1.0)),
            left=float(rng.random()), top=float(rng.random()),
            brightness=float(rng.uniform(1 - j, 1 + j)), contrast=float(rng.uniform(1 - j, 1 + j)),
            saturation=float(rng.uniform(1 - j, 1 + j)))


def view_augmentation(index: int, rng: np.random.Generator, settings: AugmentSettings) -> Augmentation:
    if index == 0:
        return Augmentation()
    if index == 1:
        return Augmentation(flip=True)
    return settings.draw(rng)


def apply(crops: torch.Tensor, augmentations: list[Augmentation]) -> torch.Tensor:
    """Augment a float batch (N, 3, 160, 160) of pixel values in [0, 255]."""
    out = []
    for image, aug in zip(crops, augmentations, strict=True):
        if aug.flip:
            image = image.flip(-1)
        if aug.scale < 1.0:
            side = max(8, int(round(CROP_SIZE * aug.scale)))
            x = int(round(aug.left * (CROP_SIZE - side)))
            y = int(round(aug.top * (CROP_SIZE - side)))
            image = F.interpolate(image[None, :, y:y + side, x:x + side], size=(CROP_SIZE, CROP_SIZE),
                                  mode="bilinear", align_corners=False)[0]
        if aug.brightness != 1.0:
            image = image * aug.brightness
        if aug.contrast != 1.0:
            mean = image.mean()
            image = (image - mean) * aug.contrast + mean
        if aug.saturation != 1.0:
            grey = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]
            image = (image - grey) * aug.saturation + grey
        out.append(image.clamp(0.0, 255.0))
    return torch.stack(out)
