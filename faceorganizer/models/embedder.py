"""The FaceNet embedder behind the :class:`~faceorganizer.models.base.FaceEmbedder` interface."""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

from faceorganizer.models.base import CROP_SIZE, EMBEDDING_SIZE
from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1
from faceorganizer.models.weights import ResolvedWeights, load_model
from faceorganizer.space import EmbeddingSpace


def standardise(crops: np.ndarray) -> torch.Tensor:
    """(N, 160, 160, 3) uint8 RGB to FaceNet's input: NCHW, ``(x - 127.5) / 128``."""
    tensor = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    return (tensor - 127.5) / 128.0


PRECISIONS = ("auto", "fp32", "fp32-nchw", "bf16", "fp16")


def auto_precision(device: torch.device) -> str:
    """The fastest precision that keeps LFW accuracy (``benchmarks/embed_speed.py``): fp16 on
    CUDA, bf16 on CPUs with native bfloat16 (AVX512-BF16 or AMX), else fp32."""
    if device.type == "cuda":
        return "fp16"
    if device.type == "cpu" and _cpu_has_bf16():
        return "bf16"
    return "fp32"


def _cpu_has_bf16() -> bool:
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool((check is not None and check()) or (amx is not None and amx()))
    except Exception:  # an unusual build: stay exact
        return False


class FacenetEmbedder:
    """Inception-ResNet-v1 in eval mode; embeddings are L2-normalised float32, 512-d.

    The network is built on first use (or by :meth:`load`, which a scan calls on a
    background thread), so that detection can start before it is ready. ``precision``:
    "fp32" (channels-last), "fp32-nchw", "bf16" or "fp16" (the convolutions in that precision by
    autocast, the head in float32),
    "auto" (:func:`auto_precision`; ``$FACEORGANIZER_PRECISION`` overrides it).
    """

    def __init__(self, weights: ResolvedWeights, device: torch.device | str = "cpu",
                 batch_size: int = 32, precision: str = "auto") -> None:
        self.device = torch.device(device)
        self.weights = weights
        self.batch_size = batch_size
        if precision == "auto":
            precision = os.environ.get("FACEORGANIZER_PRECISION") or auto_precision(self.device)
        if precision not in PRECISIONS[1:]:
            raise ValueError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
        if precision == "fp16" and self.device.type == "cpu":
            precision = "fp32"  # half precision on a CPU is slow and inexact
        self.precision = precision
        self._model: InceptionResnetV1 | None = None
        self._lock = threading.Lock()

    @property
    def space(self) -> EmbeddingSpace:
        return self.weights.space

    def load(self) -> InceptionResnetV1:
        with self._lock:
            if self._model is None:
                model = load_model(self.weights)
                # Channels-last runs the CPU convolutions about 20% faster.
                layout = torch.contiguous_format if self.precision == "fp32-nchw" else torch.channels_last
                model = model.to(self.device, memory_format=layout)
                model.requires_grad_(False)
                self._model = model
            return self._model

    @torch.inference_mode()
    def embed(self, crops: np.ndarray) -> np.ndarray:
        if crops.ndim != 4 or crops.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"expected (N, {CROP_SIZE}, {CROP_SIZE}, 3) crops, got {crops.shape}")
        model = self.load()
        out = np.empty((len(crops), EMBEDDING_SIZE), dtype=np.float32)
        low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        for start in range(0, len(crops), self.batch_size):
            batch = standardise(crops[start:start + self.batch_size]).to(self.device)
            if self.precision != "fp32-nchw":
                batch = batch.contiguous(memory_format=torch.channels_last)
            if low is None:
                vectors = model(batch)
            else:
                # The head (bottleneck, batch norm, normalisation) stays in float32: all in
                # bfloat16 cost 0.12 points of LFW accuracy, this 0.06 (benchmarks/embed_speed.py).
                with torch.autocast(self.device.type, dtype=low):
                    features = model.features(batch)
                vectors = model.head(features.float())
            out[start:start + len(batch)] = vectors.float().cpu().numpy()
        return out
