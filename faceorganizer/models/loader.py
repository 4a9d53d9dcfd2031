"""Building the real detector and embedder for a device, with the chosen weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from faceorganizer.models.base import FaceDetector, Models
from faceorganizer.models.detector import MtcnnDetector
from faceorganizer.models.device import choose_device
from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import Progress, ResolvedWeights, resolve
from faceorganizer.settings import ScanSettings


def configure_cpu_threads(workers: int) -> None:
    """Share the cores between the scan's worker threads instead of oversubscribing them.

    MTCNN's small convolutions gain nothing from a second intra-op thread, so with
    one worker per core every torch call runs single-threaded.
    """
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, workers)))


def load_detector(name: str, device: torch.device, progress: Progress | None = None) -> FaceDetector:
    """The face detector called ``name`` ("retinaface" or "mtcnn", see ``ScanSettings``)."""
    if name == "mtcnn":
        return MtcnnDetector(device)
    if name == "retinaface":
        from faceorganizer.models.retinaface import RetinaFaceDetector
        from faceorganizer.models.retinaface_weights import prepare_detector

        return RetinaFaceDetector(device, prepare_detector(progress=progress))
    raise ValueError(f"unknown face detector {name!r}")


def load_models(device: str = "auto", weights: str | Path | ResolvedWeights | None = None, *,
                workers: int = 1, embed_batch: int = 32, progress: Progress | None = None,
                detector: str | None = None) -> Models:
    """The face detector (``detector``, default ``ScanSettings().detector``) and FaceNet on
    ``device`` ("auto": CUDA, then MPS, then CPU)."""
    chosen = choose_device(device)
    if chosen.type == "cpu":
        configure_cpu_threads(workers)
    resolved = weights if isinstance(weights, ResolvedWeights) else resolve(weights, progress=progress)
    return Models(detector=load_detector(detector or ScanSettings().detector, chosen, progress),
                  embedder=FacenetEmbedder(resolved, chosen, batch_size=embed_batch))
