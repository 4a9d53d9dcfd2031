"""The FaceNet embedder behind the :class:`~faceorganizer.models.base.FaceEmbedder` interface."""

from __future__ import annotations

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


class FacenetEmbedder:
    """Inception-ResNet-v1 in eval mode; embeddings are L2-normalised float32, 512-d.

    The network is built on first use (or by :meth:`load`, which a scan calls on a
    background thread), so that detection can start before it is ready.
    """

    def __init__(self, weights: ResolvedWeights, device: torch.device | str = "cpu",
                 batch_size: int = 32) -> None:
        self.device = torch.device(device)
        self.weights = weights
        self.batch_size = batch_size
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
                model = model.to(self.device, memory_format=torch.channels_last)
                model.requires_grad_(False)
                self._model = model
            return self._model

    @torch.inference_mode()
    def embed(self, crops: np.ndarray) -> np.ndarray:
        if crops.ndim != 4 or crops.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"expected (N, {CROP_SIZE}, {CROP_SIZE}, 3) crops, got {crops.shape}")
        model = self.load()
        out = np.empty((len(crops), EMBEDDING_SIZE), dtype=np.float32)
        for start in range(0, len(crops), self.batch_size):
            batch = standardise(crops[start:start + self.batch_size]).to(self.device)
            batch = batch.contiguous(memory_format=torch.channels_last)
            out[start:start + len(batch)] = model(batch).float().cpu().numpy()
        return out
