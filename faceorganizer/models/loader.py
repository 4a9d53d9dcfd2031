"""Building the real detector and embedder for a device, with the chosen weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from faceorganizer.models.base import Models
from faceorganizer.models.detector import MtcnnDetector
from faceorganizer.models.device import choose_device
from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import Progress, ResolvedWeights, resolve


def configure_cpu_threads(workers: int) -> None:
    """Share the cores between the scan's worker threads instead of oversubscribing them.

    MTCNN's small convolutions gain nothing from a second intra-op thread, so with
    one worker per core every torch call runs single-threaded.
    """
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, workers)))


def load_models(device: str = "auto", weights: str | Path | ResolvedWeights | None = None, *,
                workers: int = 1,
                embed_batch: int = 32, progress: Progress | None = None) -> Models:
    """MTCNN and FaceNet on ``device`` ("auto": CUDA, then MPS, then CPU)."""
    chosen = choose_device(device)
    if chosen.type == "cpu":
        configure_cpu_threads(workers)
    resolved = weights if isinstance(weights, ResolvedWeights) else resolve(weights, progress=progress)
    return Models(detector=MtcnnDetector(chosen),
                  embedder=FacenetEmbedder(resolved, chosen, batch_size=embed_batch))
