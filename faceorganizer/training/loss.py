"""FaceNet's triplet loss on L2-normalised embeddings.

``L(A, P, N) = max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0)``
(Schroff, Kalenichenko and Philbin 2015, eq. 1 and 2), with squared Euclidean distances.
"""

from __future__ import annotations

import torch

from faceorganizer.training.config import DEFAULT_MARGIN

__all__ = ["DEFAULT_MARGIN", "squared_distances", "triplet_loss"]


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """All pairwise squared L2 distances of a batch (N, D) -> (N, N), never negative."""
    dot = embeddings @ embeddings.T
    norms = torch.diagonal(dot)
    return (norms[:, None] - 2.0 * dot + norms[None, :]).clamp_min(0.0)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """The loss of each triplet (rows of the three (N, D) tensors), shape (N,)."""
    positive_distance = (anchor - positive).pow(2).sum(dim=1)
    negative_distance = (anchor - negative).pow(2).sum(dim=1)
    return (positive_distance - negative_distance + margin).clamp_min(0.0)
