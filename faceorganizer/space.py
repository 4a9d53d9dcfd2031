"""The embedding space a set of embeddings lives in: which weights made them and their distance scale.

Embeddings are comparable only within one space, and every distance threshold is set
in the built-in weights' distances and read in a space's by multiplying it by the
space's ``distance_scale`` (fine-tuning spreads an embedding a little). The value is
taken by everything that compares embeddings (scanning, grouping, search, verify,
identify, the window), so an embedding and a threshold never come from different
spaces: a vector carries its space (:class:`Embeddings`), a library records its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceorganizer.errors import FaceorganizerError

# A scale outside this range is not a fine-tuned FaceNet's; it is ignored (read as 1.0).
SCALE_RANGE = (0.25, 4.0)


class SpaceMismatchError(FaceorganizerError):
    """Embeddings (or a threshold) from one set of weights met those of another."""


def checked_scale(value: object) -> float:
    """A usable distance scale from stored or file metadata (1.0 when unusable)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 1.0
    low, high = SCALE_RANGE
    return float(value) if low < value < high else 1.0


@dataclass(frozen=True)
class EmbeddingSpace:
    """``model_id`` names the weights (``casia-webface-...`` or ``custom-<sha256 prefix>``);
    ``distance_scale`` is how much larger their distances are than the built-in weights'."""

    model_id: str
    distance_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "distance_scale", checked_scale(self.distance_scale))

    def check(self, other: EmbeddingSpace, what: str = "these embeddings") -> None:
        """Refuse to compare with embeddings of another space."""
        if other.model_id != self.model_id:
            raise SpaceMismatchError(
                f"{what} come from the weights {other.model_id}, not {self.model_id}: their distances "
                "cannot be compared. Use the same weights (`faceorganizer weights use`, or --weights).")

    def to_record(self) -> dict[str, object]:
        return {"model_id": self.model_id, **({"distance_scale": self.distance_scale}
                                              if self.distance_scale != 1.0 else {})}


@dataclass(frozen=True)
class Embeddings:
    """Unit vectors (n, 512) and the space they live in."""

    vectors: np.ndarray
    space: EmbeddingSpace

    def __len__(self) -> int:
        return len(self.vectors)

    def one(self, index: int = 0) -> Embeddings:
        return Embeddings(self.vectors[index:index + 1], self.space)

    def distances_to(self, other: Embeddings) -> np.ndarray:
        """Squared L2 distances (len(self), len(other)); refuses another space."""
        self.space.check(other.space)
        a = np.asarray(self.vectors, dtype=np.float64)
        b = np.asarray(other.vectors, dtype=np.float64)
        return np.maximum(np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * a @ b.T,
                          0.0)
