"""The settings of a training run (importable without torch, for the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from faceorganizer.errors import FaceorganizerError

DEFAULT_MARGIN = 0.2
TRAINABLE = ("last", "block8", "all")


class TrainingError(FaceorganizerError):
    """Training cannot start or go on (bad settings, no usable people, bad checkpoint)."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_people: int = 30          # P
    faces_per_person: int = 4       # K
    margin: float = DEFAULT_MARGIN
    lr: float = 1e-4
    weight_decay: float = 0.0
    trainable: str = "last"
    views: int = 4                  # augmented views per face when the trunk is frozen
    seed: int = 0
    keep: str = "best"              # "best" validated epoch or "last" epoch (best needs validation)
    feature_batch: int = 32

    def check(self) -> None:
        problems = []
        if self.trainable not in TRAINABLE:
            problems.append(f"--trainable must be one of {', '.join(TRAINABLE)}")
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_people < 2:
            problems.append("--batch-people must be at least 2 (negatives come from other people)")
        if self.faces_per_person < 2:
            problems.append("--faces-per-person must be at least 2 (anchor and positive)")
        if not 0 < self.margin < 4:
            problems.append("--margin must be between 0 and 4 (squared distances on the unit sphere)")
        if not 0 < self.lr < 1:
            problems.append("--lr must be between 0 and 1")
        if self.views < 1:
            problems.append("--views must be at least 1")
        if self.keep not in ("best", "last"):
            problems.append("--keep must be best or last")
        if problems:
            raise TrainingError("; ".join(problems))

    def resumable_with(self, other: TrainConfig) -> list[str]:
        """The settings that differ from ``other`` and would make a resumed run a different run."""
        fixed = ("batch_people", "faces_per_person", "margin", "lr", "weight_decay", "trainable",
                 "views", "seed")
        return [name for name in fixed if getattr(self, name) != getattr(other, name)]
