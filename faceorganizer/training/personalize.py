"""Personalising the embedder to one library: fine-tune on its confirmed people, check on
people the training did not see, and only then switch the library to the new weights.

The confirmed people (named people's faces and faces the user confirmed) are split by
person: a held-out share (at least two people) is never trained on. The bottleneck is
fine-tuned on the rest (``trainer``), and both weights embed the held-out faces:

- **clustering**: the library's own grouping (its settings, rescaled to each weights'
  distances) on the held-out faces, scored with BCubed F against the user's labels;
- **verification**: every held-out pair judged at the library's verify threshold;
- **look-alikes**: the closest 5% of different-person pairs (the look-alikes), their
  mean distance and how many fall under the threshold (false matches).

The weights' distance scale (how much training spread the embedding) is measured on
the held-out people too, since the training faces overstate it for people not trained
on, and written into the weights file. The new weights are accepted only if clustering
F and pair accuracy each drop by at most ``tolerance`` (0.3 points by default); the
figures are reported either way. The weights that are used are exactly the ones
measured (the held-out people are only used to check and to scale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from faceorganizer.evaluation.metrics import score
from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import ResolvedWeights, distance_scale, resolve
from faceorganizer.paths import written_atomically
from faceorganizer.people.clustering import cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.training.data import FaceSet
from faceorganizer.training.trainer import Report, TrainConfig, TrainingError, TrainResult, train

TOLERANCE = 0.003
LOOKALIKE_SHARE = 0.05


@dataclass(frozen=True)
class HeldOutScores:
    bcubed_f: float
    bcubed_precision: float
    bcubed_recall: float
    pair_accuracy: float
    false_matches: int        # different-person pairs under the verify threshold
    missed_matches: int       # same-person pairs over it
    lookalike_distance: float  # mean distance of the closest 5% of different-person pairs
    same_distance: float       # mean distance of same-person pairs

    @property
    def lookalike_ratio(self) -> float:
        """How much farther look-alikes are than the same person (scale-free; higher is better)."""
        return self.lookalike_distance / max(self.same_distance, 1e-9)


def held_out_scores(embeddings: np.ndarray, labels: np.ndarray, settings: PeopleSettings) -> HeldOutScores:
    clusters = cluster(embeddings, settings.cluster_params)
    scores = score(clusters.tolist(), labels.tolist())
    d = np.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    upper = np.triu_indices(len(labels), k=1)
    distances, same = d[upper], (labels[:, None] == labels[None, :])[upper]
    threshold = settings.verify_threshold
    different = np.sort(distances[~same])
    closest = different[:max(1, int(round(LOOKALIKE_SHARE * len(different))))]
    return HeldOutScores(
        bcubed_f=scores.bcubed_f, bcubed_precision=scores.bcubed_precision,
        bcubed_recall=scores.bcubed_recall,
        pair_accuracy=float(np.mean((distances < threshold) == same)),
        false_matches=int(np.sum(distances[~same] < threshold)),
        missed_matches=int(np.sum(distances[same] >= threshold)),
        lookalike_distance=float(closest.mean()), same_distance=float(distances[same].mean()))


def mean_different(embeddings: np.ndarray, labels: np.ndarray) -> float:
    d = np.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    return float(d[labels[:, None] != labels[None, :]].mean())


def _set_distance_scale(path: Path, scale: float) -> None:
    import torch

    stored = torch.load(path, map_location="cpu", weights_only=True)
    stored["faceorganizer"]["distance_scale"] = round(scale, 6)
    stored["faceorganizer"]["distance_scale_from"] = "held-out people"
    with written_atomically(path) as handle:
        torch.save(stored, handle)


def split_people(faces: FaceSet, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train mask, held-out mask) over faces; whole people go one way or the other."""
    people = faces.trainable_people()
    if len(people) < 4:
        raise TrainingError(f"personalising needs at least 4 confirmed people with 2 or more faces "
                            f"each (2 to learn from, 2 to check on); this library has {len(people)}. "
                            "Name more people, or confirm more of their faces.")
    count = min(len(people) - 2, max(2, int(round(share * len(people)))))
    held = np.random.default_rng(seed).choice(people, size=count, replace=False)
    held_mask = np.isin(faces.labels, held)
    return np.isin(faces.labels, people) & ~held_mask, held_mask


@dataclass
class PersonalizeResult:
    weights: Path
    accepted: bool
    before: HeldOutScores
    after: HeldOutScores
    trained_people: int
    held_out_people: int
    training: TrainResult
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"weights": str(self.weights), "accepted": self.accepted, "reasons": self.reasons,
                "trained_people": self.trained_people, "held_out_people": self.held_out_people,
                "before": {**asdict(self.before), "lookalike_ratio": self.before.lookalike_ratio},
                "after": {**asdict(self.after), "lookalike_ratio": self.after.lookalike_ratio},
                "training": self.training.as_dict()}


def default_out(library_path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return library_path.parent / "weights" / f"{library_path.stem}-personal-{stamp}.pt"


def personalize(faces: FaceSet, base: ResolvedWeights, out: Path, config: TrainConfig,
                settings: PeopleSettings, *, device: str = "cpu", share: float = 0.25,
                tolerance: float = TOLERANCE, cache_dir: Path | None = None,
                report: Report | None = None,
                embedder: Callable[[ResolvedWeights], FacenetEmbedder] | None = None) -> PersonalizeResult:
    """Fine-tune ``base`` on ``faces`` minus a held-out share of people and measure both."""
    faces = faces.only_trainable()
    train_mask, held_mask = split_people(faces, share, config.seed)
    training_set, held = faces.subset(train_mask), faces.subset(held_mask)
    result = train(training_set, base, out, TrainConfig(**{**asdict(config), "keep": "last"}),
                   device=device, cache_dir=cache_dir, report=report,
                   extra_meta={"personalized": "held-out check on "
                                               f"{len(held.people)} people"})
    make = embedder or (lambda w: FacenetEmbedder(w, device))
    old_vectors = make(base).embed(held.crops)
    before = held_out_scores(old_vectors, held.labels, settings)
    tuned = resolve(out)
    new_vectors = make(tuned).embed(held.crops)
    # ``settings`` are in the base weights' distances and the new weights spread them a
    # little. The training faces overstate how much for people not trained on, so the
    # scale is measured again on the held-out people and written into the weights.
    rescale = mean_different(new_vectors, held.labels) / mean_different(old_vectors, held.labels)
    _set_distance_scale(out, distance_scale(base) * rescale)
    after = held_out_scores(new_vectors, held.labels, settings.scaled(rescale))
    reasons = []
    if all(record.active == 0 for record in result.history if record.loss is not None):
        reasons.append("nothing to learn: every triplet of the confirmed people already meets the "
                       "margin, so the weights did not change (confirm more faces, or harder ones)")
    if after.bcubed_f < before.bcubed_f - tolerance:
        reasons.append(f"clustering of unseen people got worse: BCubed F {100 * before.bcubed_f:.1f} -> "
                       f"{100 * after.bcubed_f:.1f}")
    if after.pair_accuracy < before.pair_accuracy - tolerance:
        reasons.append(f"verification of unseen people got worse: {100 * before.pair_accuracy:.2f}% -> "
                       f"{100 * after.pair_accuracy:.2f}%")
    return PersonalizeResult(weights=out, accepted=not reasons, before=before, after=after,
                             trained_people=len(training_set.people), held_out_people=len(held.people),
                             training=result, reasons=reasons)
