"""LFW View 2: the standard 10-fold verification protocol on pre-aligned face crops.

For each fold, the distance threshold that is most accurate on the other nine folds
is applied to it; accuracy is the mean (and standard deviation) over the ten folds.
VAL at FAR = 1e-3 is measured the same way: the threshold that makes 0.1% of the
training folds' different-person pairs look alike is applied to the test fold
(as in davidsandberg/facenet's ``lfw.py``). Distances are squared L2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from faceorganizer.models.base import CROP_SIZE

Image_ = tuple[str, int]


@dataclass(frozen=True)
class Pairs:
    folds: int
    first: list[Image_]
    second: list[Image_]
    same: np.ndarray  # bool, one per pair
    fold: np.ndarray  # fold index, one per pair

    @property
    def images(self) -> list[Image_]:
        return sorted(set(self.first) | set(self.second))


class LfwError(ValueError):
    """The pairs file or the image folder is not in the LFW format."""


def read_pairs(path: Path) -> Pairs:
    """Parse ``pairs.txt``: a header "folds n", then per fold n same and n different pairs."""
    try:
        lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (OSError, ValueError, IndexError) as exc:
        raise LfwError(f"cannot read LFW pairs from {path}: {exc}") from exc
    first: list[Image_] = []
    second: list[Image_] = []
    same: list[bool] = []
    for fields in lines[1:]:
        if len(fields) == 3:
            first.append((fields[0], int(fields[1])))
            second.append((fields[0], int(fields[2])))
            same.append(True)
        elif len(fields) == 4:
            first.append((fields[0], int(fields[1])))
            second.append((fields[2], int(fields[3])))
            same.append(False)
        else:
            raise LfwError(f"{path}: unexpected line {' '.join(fields)!r}")
    if len(same) != folds * per_fold * 2:
        raise LfwError(f"{path}: {len(same)} pairs, expected {folds} folds x {2 * per_fold}")
    fold = np.repeat(np.arange(folds), 2 * per_fold)
    return Pairs(folds, first, second, np.asarray(same), fold)


def image_path(root: Path, image: Image_) -> Path:
    name, number = image
    return root / name / f"{name}_{number:04d}.jpg"


def load_crop(root: Path, image: Image_) -> np.ndarray:
    """A pre-aligned LFW crop resized to the embedder's 160x160 input."""
    path = image_path(root, image)
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB").resize((CROP_SIZE, CROP_SIZE),
                                                           Image.Resampling.BILINEAR))
    except OSError as exc:
        raise LfwError(f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class LfwResult:
    accuracy: float
    std: float
    val: float
    val_std: float
    far: float
    threshold: float
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


THRESHOLDS = np.arange(0.0, 4.0, 0.001)


def _accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances < threshold) == same))


def _accuracies(distances: np.ndarray, same: np.ndarray) -> np.ndarray:
    """Accuracy at every threshold of THRESHOLDS, vectorised through sorting."""
    order = np.argsort(distances)
    d, s = distances[order], same[order]
    # Pairs with distance < t are called "same": count true same/different below each t.
    below = np.searchsorted(d, THRESHOLDS, side="left")
    same_below = np.concatenate([[0], np.cumsum(s)])[below]
    diff_below = below - same_below
    total_diff = len(s) - int(s.sum())
    return (same_below + (total_diff - diff_below)) / len(s)


def _val_far(distances: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    accept = distances < threshold
    val = float(np.sum(accept & same) / max(1, np.sum(same)))
    far = float(np.sum(accept & ~same) / max(1, np.sum(~same)))
    return val, far


def _far_threshold(distances: np.ndarray, same: np.ndarray, target: float) -> float:
    """The threshold at which the false accept rate reaches ``target`` (interpolated)."""
    different = np.sort(distances[~same])
    fars = np.searchsorted(different, THRESHOLDS, side="left") / max(1, len(different))
    if fars.max() < target:
        return float(THRESHOLDS[-1])
    # fars is non-decreasing: the last threshold with far <= target, refined linearly.
    index = int(np.searchsorted(fars, target, side="right")) - 1
    if index < 0:
        return 0.0
    if index + 1 < len(fars) and fars[index + 1] > fars[index]:
        step = (target - fars[index]) / (fars[index + 1] - fars[index])
        return float(THRESHOLDS[index] + step * (THRESHOLDS[index + 1] - THRESHOLDS[index]))
    return float(THRESHOLDS[index])


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The most accurate threshold on these pairs."""
    return float(THRESHOLDS[int(np.argmax(_accuracies(distances, same)))])


def accuracy_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return _accuracy(distances, same, threshold)


def evaluate_distances(distances: np.ndarray, pairs: Pairs, far_target: float = 1e-3) -> LfwResult:
    """The 10-fold protocol on one squared distance per pair."""
    accuracies, vals, fars, thresholds = [], [], [], []
    for test in range(pairs.folds):
        train = pairs.fold != test
        testing = pairs.fold == test
        best = best_threshold(distances[train], pairs.same[train])
        thresholds.append(best)
        accuracies.append(_accuracy(distances[testing], pairs.same[testing], best))
        far_at = _far_threshold(distances[train], pairs.same[train], far_target)
        val, far = _val_far(distances[testing], pairs.same[testing], far_at)
        vals.append(val)
        fars.append(far)
    return LfwResult(accuracy=float(np.mean(accuracies)), std=float(np.std(accuracies)),
                     val=float(np.mean(vals)), val_std=float(np.std(vals)),
                     far=float(np.mean(fars)), threshold=float(np.mean(thresholds)),
                     pairs=len(distances))


def pair_distances(pairs: Pairs, embeddings: dict[Image_, np.ndarray]) -> np.ndarray:
    a = np.stack([embeddings[i] for i in pairs.first])
    b = np.stack([embeddings[i] for i in pairs.second])
    return np.sum((a - b) ** 2, axis=1)


def embed_images(root: Path, images: list[Image_], embed: Callable[[np.ndarray], np.ndarray],
                 *, flip: bool = False, batch: int = 64,
                 progress: Callable[[int, int], None] | None = None) -> dict[Image_, np.ndarray]:
    """Embeddings of LFW crops; with ``flip``, of the crop and its mirror image summed
    and normalised again (the usual test-time augmentation)."""
    out: dict[Image_, np.ndarray] = {}
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        crops = np.stack([load_crop(root, image) for image in chunk])
        vectors = embed(crops)
        if flip:
            vectors = vectors + embed(np.ascontiguousarray(crops[:, :, ::-1]))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        out.update(zip(chunk, vectors, strict=True))
        if progress:
            progress(min(start + batch, len(images)), len(images))
    return out
