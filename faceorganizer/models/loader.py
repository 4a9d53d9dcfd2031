"""Building the real detector and embedder for a device, with the chosen weights."""

from __future__ import annotations

from pathlib import Path

import torch

from faceorganizer.cores import core_share
from faceorganizer.models.base import FaceDetector, Models
from faceorganizer.models.detector import MtcnnDetector
from faceorganizer.models.device import choose_device
from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import Progress, ResolvedWeights, resolve
from faceorganizer.settings import ScanSettings

# Crops embedded per forward pass on a GPU (the scan hands over what it has; a GPU is idle
# below some hundreds of faces).
GPU_EMBED_BATCH = 256


def configure_cpu_threads(workers: int) -> None:
    """Share this process's cores (``faceorganizer.cores``: the machine's, divided between the
    faceorganizer processes running) between the scan's worker threads instead of
    oversubscribing them. The detectors' small convolutions gain nothing from a second
    intra-op thread, so with one worker per core every call runs single-threaded."""
    torch.set_num_threads(max(1, core_share() // max(1, workers)))


def load_detector(name: str, device: torch.device, progress: Progress | None = None) -> FaceDetector:
    """The face detector called ``name`` ("retinaface" or "mtcnn", see ``ScanSettings``)."""
    if name == "mtcnn":
        return MtcnnDetector(device)
    if name == "retinaface":
        from faceorganizer.models.retinaface import RetinaFaceDetector
        from faceorganizer.models.retinaface_weights import resolve_detector

        detector = RetinaFaceDetector(device, resolve_detector(progress=progress))
        if device.type in ("cuda", "mps"):  # a forward pass over several photos costs about one
            from faceorganizer.models.batching import BatchingDetector

            return BatchingDetector(detector)
        return detector
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
    if chosen.type in ("cuda", "mps"):
        embed_batch = max(embed_batch, GPU_EMBED_BATCH)
    return Models(detector=load_detector(detector or ScanSettings().detector, chosen, progress),
                  embedder=FacenetEmbedder(resolved, chosen, batch_size=embed_batch))
