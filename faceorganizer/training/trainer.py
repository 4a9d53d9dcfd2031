"""Fine-tuning FaceNet with the triplet loss: P x K batches, online mining, validation,
checkpoints and resume.

Each epoch shows every person with at least two faces once: people are shuffled and
taken P at a time, each with up to K of their faces. The network is in eval mode
throughout (see ``network``), so with a frozen trunk (``last``, ``block8``) the trunk's
output for an augmented face never changes: ``views`` augmented views of each face
(the crop, its mirror image, then random small crops with colour jitter) are put
through the trunk once, cached on disk, and each time a face is drawn one of its views
is used (see ``FeatureBank``). An epoch then costs only the head, which is what makes training useful on a
2-core CPU. With ``all`` every face is augmented afresh each time it is drawn.

All randomness comes from ``seed`` (epoch ``e`` draws from ``default_rng([seed, e])``),
so the same run gives the same weights twice on a CPU, and a resumed run gives the
weights the uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from faceorganizer.evaluation.lfw import Pairs, evaluate_distances, load_crop
from faceorganizer.models.embedder import standardise
from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1
from faceorganizer.models.weights import ResolvedWeights, distance_scale, load_model
from faceorganizer.paths import written_atomically
from faceorganizer.training.augment import Augmentation, AugmentSettings, apply, view_augmentation
from faceorganizer.training.config import TrainConfig, TrainingError
from faceorganizer.training.data import FaceSet
from faceorganizer.training.loss import squared_distances, triplet_loss
from faceorganizer.training.miner import FALLBACK, SEMI_HARD, mine
from faceorganizer.training.network import head, trainable_parameters, trunk

CHECKPOINT_FORMAT = "faceorganizer-training-checkpoint-1"


# --- events -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """A preparation step (``done`` of ``total`` units)."""

    text: str
    done: int
    total: int


@dataclass(frozen=True)
class Step:
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float          # mean over this epoch's steps so far
    active: float        # fraction of this epoch's triplets with a positive loss so far
    eta: float | None


@dataclass
class EpochRecord:
    epoch: int                       # 0: before training
    loss: float | None = None        # mean triplet loss over the epoch's triplets
    active: float | None = None      # fraction of triplets with a positive loss
    semi_hard: float | None = None   # fraction of triplets whose negative was semi-hard
    fallback: float | None = None    # fraction that fell back to a hard negative
    triplets: int = 0
    seconds: float = 0.0
    validation: dict[str, float | int] | None = None


@dataclass(frozen=True)
class EpochDone:
    record: EpochRecord


Event = Stage | Step | EpochDone
Report = Callable[[Event], None]


@dataclass
class TrainResult:
    out: Path
    kept_epoch: int
    history: list[EpochRecord]
    dataset: dict[str, int]
    config: TrainConfig
    base_model: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "kept_epoch": self.kept_epoch, "base_model": self.base_model,
                "config": asdict(self.config), "dataset": self.dataset,
                "seconds": round(self.seconds, 1), **self.extra,
                "history": [asdict(r) for r in self.history]}


# --- frozen-trunk features ----------------------------------------------------------------

def _trunk_batches(model: InceptionResnetV1, crops: np.ndarray, trainable: str, device: torch.device,
                   augmentations: Callable[[int], Augmentation], batch: int) -> torch.Tensor:
    """Trunk outputs of crops[i] under augmentations(i) for every i, on the CPU."""
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(crops), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(crops[start:start + batch])).permute(0, 3, 1, 2)
            chunk = apply(chunk.float(), [augmentations(start + i) for i in range(len(chunk))])
            x = ((chunk - 127.5) / 128.0).to(device).contiguous(memory_format=torch.channels_last)
            outputs.append(trunk(model, x, trainable).float().cpu())
    return torch.cat(outputs)


class FeatureBank:
    """Trunk outputs of ``views`` augmented views of every face, (N, V, ...).

    A face's views depend only on its pixels and the seed (its random augmentations are
    drawn from ``default_rng([seed, view, hash of the crop])``), so they are cached per
    face, in shards of up to 256 faces written as they are done: another set that shares
    faces (a subset, a resumed run, an interrupted computation) reuses them.
    """

    SHARD = 256

    def __init__(self, model: InceptionResnetV1, faces: FaceSet, config: TrainConfig,
                 base_model: str, device: torch.device, cache_dir: Path | None,
                 report: Report, augment: AugmentSettings) -> None:
        key = json.dumps([base_model, config.trainable, config.views, config.seed, asdict(augment)])
        folder = cache_dir / f"trunk-{hashlib.sha256(key.encode()).hexdigest()[:20]}" if cache_dir else None
        digests = faces.crop_digests
        names = [d.hex()[:32] for d in digests]
        known = self._load(folder, set(names))
        missing = [i for i, name in enumerate(names) if name not in known]
        for start in range(0, len(missing), self.SHARD):
            chunk = missing[start:start + self.SHARD]
            crops = faces.crops[chunk]
            views = []
            for view in range(config.views):
                def augmentations(i: int, view: int = view, chunk: list[int] = chunk) -> Augmentation:
                    seed = int.from_bytes(digests[chunk[i]][:8], "little")
                    return view_augmentation(view, np.random.default_rng([config.seed, view, seed]), augment)

                views.append(_trunk_batches(model, crops, config.trainable, device, augmentations,
                                            config.feature_batch))
            features = torch.stack(views, dim=1).numpy()
            known.update({names[i]: features[j] for j, i in enumerate(chunk)})
            if folder is not None:
                with written_atomically(folder / f"{names[chunk[0]]}-{len(chunk)}.npz") as handle:
                    np.savez(handle, names=np.array([names[i] for i in chunk]), features=features)
            report(Stage("Computing trunk features of the augmented faces",
                         min(len(missing), start + self.SHARD), len(missing)))
        self.features = torch.from_numpy(np.stack([known[name] for name in names]))

    @staticmethod
    def _load(folder: Path | None, wanted: set[str]) -> dict[str, np.ndarray]:
        known: dict[str, np.ndarray] = {}
        if folder is None or not folder.is_dir():
            return known
        for shard in sorted(folder.glob("*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as stored:
                    names = stored["names"].tolist()
                    if wanted.isdisjoint(names):
                        continue
                    features = stored["features"]
            except (OSError, ValueError, KeyError):
                continue  # a damaged shard is computed again
            known.update((n, features[j]) for j, n in enumerate(names) if n in wanted)
        return known

    def take(self, faces: np.ndarray, views: np.ndarray) -> torch.Tensor:
        return self.features[torch.from_numpy(faces), torch.from_numpy(views)]


# --- validation -------------------------------------------------------------------------

class PairValidation:
    """LFW-format verification pairs, measured after every epoch.

    The accuracy is the 10-fold protocol of ``evaluation.lfw`` (each fold's threshold
    chosen on the others). When only some of the pairs' folds are used (say fold 10,
    whose people the training did not see), their pairs are dealt into 10 folds again,
    so thresholds are still never chosen on the pairs they are tested on.
    """

    def __init__(self, root: Path, pairs: Pairs, folds: set[int] | None = None) -> None:
        if folds is not None:
            keep = np.isin(pairs.fold + 1, sorted(folds))
            if not keep.any():
                raise TrainingError(f"the pairs file has no folds {sorted(folds)}")
            index = np.flatnonzero(keep)
            pairs = Pairs(folds=10, first=[pairs.first[i] for i in index],
                          second=[pairs.second[i] for i in index], same=pairs.same[index],
                          fold=np.arange(len(index)) % 10)
        self.root, self.pairs = root, pairs
        self.images = pairs.images
        self._inputs: torch.Tensor | None = None

    def people(self) -> set[str]:
        return {name for name, _ in self.images}

    def prepare(self, model: InceptionResnetV1, trainable: str, device: torch.device,
                batch: int, report: Report, base_model: str = "", cache_dir: Path | None = None) -> None:
        key = json.dumps([base_model, trainable, str(self.root), self.images])
        path = (cache_dir / f"validation-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
                if cache_dir and base_model and trainable != "all" else None)
        if path is not None and path.is_file():
            self._inputs = torch.from_numpy(np.load(path))
            return
        crops = np.stack([load_crop(self.root, image) for image in self.images])
        if trainable == "all":
            self._inputs = standardise(crops)
            return
        chunks = []
        for start in range(0, len(crops), batch * 8):
            part = crops[start:start + batch * 8]
            chunks.append(_trunk_batches(model, part, trainable, device, lambda i: Augmentation(), batch))
            report(Stage("Computing trunk features of the validation faces",
                         start + len(part), len(crops)))
        self._inputs = torch.cat(chunks)
        if path is not None:
            with written_atomically(path) as handle:
                np.save(handle, self._inputs.numpy())

    def evaluate(self, model: InceptionResnetV1, trainable: str, device: torch.device) -> dict[str, Any]:
        assert self._inputs is not None, "prepare() first"
        with torch.inference_mode():
            vectors = torch.cat([head(model, self._inputs[s:s + 256].to(device), trainable).cpu()
                                 for s in range(0, len(self._inputs), 256)]).numpy()
        index = {image: i for i, image in enumerate(self.images)}
        a = vectors[[index[i] for i in self.pairs.first]]
        b = vectors[[index[i] for i in self.pairs.second]]
        return evaluate_distances(np.sum((a - b) ** 2, axis=1), self.pairs).as_dict()


# --- batches ------------------------------------------------------------------------------

def plan_epoch(labels: np.ndarray, config: TrainConfig, rng: np.random.Generator,
               views: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(face indices, view indices) of each batch: P people x up to K faces each."""
    by_person = [np.flatnonzero(labels == p) for p in range(int(labels.max()) + 1)] if len(labels) else []
    people = np.array([p for p, faces in enumerate(by_person) if len(faces) >= 2])
    people = people[rng.permutation(len(people))]
    groups = [people[i:i + config.batch_people] for i in range(0, len(people), config.batch_people)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2] = np.concatenate([groups[-2], groups.pop()])
    batches = []
    for group in groups:
        if len(group) < 2:
            continue
        faces = np.concatenate([
            rng.choice(by_person[p], size=min(config.faces_per_person, len(by_person[p])), replace=False)
            for p in group])
        batches.append((faces, rng.integers(0, views, size=len(faces))))
    return batches


# --- checkpoints --------------------------------------------------------------------------

def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint")


def _save_atomic(value: Any, path: Path) -> None:
    with written_atomically(path) as handle:
        torch.save(value, handle)


def _cpu_state(model: torch.nn.Module, only: set[str] | None = None) -> dict[str, torch.Tensor]:
    """The state dict on the CPU (with ``only``, just those entries: what training changes)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if only is None or k in only}


# --- distance scale -------------------------------------------------------------------------

def _scale_sample(faces: FaceSet, bank: FeatureBank | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (view 0) and labels of a fixed sample of the faces, for the distance scale."""
    size = min(len(faces), 1000 if bank is not None else 256)
    index = np.sort(np.random.default_rng([seed, 0xD15]).choice(len(faces), size=size, replace=False))
    if bank is not None:
        inputs = bank.features[torch.from_numpy(index), 0]
    else:
        inputs = standardise(faces.crops[index])
    return inputs, torch.from_numpy(faces.labels[index])


def mean_different_distance(model: InceptionResnetV1, sample: tuple[torch.Tensor, torch.Tensor],
                            trainable: str, device: torch.device) -> float:
    """The mean squared distance between faces of different people: the embedding's scale.

    Triplet fine-tuning spreads the embedding a little, nearly uniformly (on LFW the mean
    different-person distance, the same-person median and the best verification threshold
    all grow by 8 to 10%, on trained and unseen people alike), so the ratio of this before
    and after training rescales the people thresholds calibrated on the built-in weights.
    """
    inputs, labels = sample
    with torch.inference_mode():
        vectors = torch.cat([head(model, inputs[s:s + 128].to(device), trainable).cpu()
                             for s in range(0, len(inputs), 128)])
    different = labels[:, None] != labels[None, :]
    return float(squared_distances(vectors)[different].mean())


# --- the run ------------------------------------------------------------------------------

def train(faces: FaceSet, weights: ResolvedWeights, out: Path, config: TrainConfig, *,
          device: torch.device | str = "cpu", validation: PairValidation | None = None,
          resume: bool = False, cache_dir: Path | None = None, report: Report | None = None,
          augment: AugmentSettings | None = None, extra_meta: dict[str, Any] | None = None) -> TrainResult:
    """Fine-tune ``weights`` on ``faces`` and write the result to ``out`` (a state dict
    that ``--weights`` accepts). A checkpoint beside it is written after every epoch."""
    config.check()
    report = report or (lambda event: None)
    augment = augment or AugmentSettings()
    device = torch.device(device)
    if config.keep == "best" and validation is None:
        config = TrainConfig(**{**asdict(config), "keep": "last"})
    trainable_people = faces.trainable_people()
    if len(trainable_people) < 2:
        raise TrainingError(f"training needs at least 2 people with 2 or more faces each; "
                            f"this set has {len(trainable_people)}")
    started = time.monotonic()
    torch.manual_seed(config.seed)
    model = load_model(weights).to(device, memory_format=torch.channels_last)  # faster CPU convolutions
    model.eval()  # BatchNorm statistics stay fixed, no dropout (see ``network``)
    params = trainable_parameters(model, config.trainable)
    changing = {name for name, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    fingerprint = faces.fingerprint()

    history: list[EpochRecord] = []
    scale_before: float | None = None
    first_epoch = 1
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    checkpoint = checkpoint_path(out)
    if resume:
        if not checkpoint.is_file():
            raise TrainingError(f"there is no checkpoint to resume from ({checkpoint})")
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{checkpoint} is not a faceorganizer training checkpoint")
        saved = TrainConfig(**state["config"])
        differ = config.resumable_with(saved)
        if differ:
            had = ", ".join(f"{k}={getattr(saved, k)}" for k in differ)
            raise TrainingError(f"cannot resume with different settings: {', '.join(differ)} "
                                f"(the checkpoint has {had})")
        if state["dataset"] != fingerprint or state["base_model"] != weights.model_id:
            raise TrainingError("cannot resume: the training faces or the starting weights changed")
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        history = [EpochRecord(**r) for r in json.loads(state["history"])]
        first_epoch = int(state["epoch"]) + 1
        scale_before = float(state["scale_before"])
        if state.get("best_state") is not None:
            best = (float(state["best_score"]), int(state["best_epoch"]), state["best_state"])
        if first_epoch > config.epochs:
            raise TrainingError(f"the checkpoint is at epoch {first_epoch - 1} already; "
                                f"ask for more --epochs to go on")

    frozen_trunk = config.trainable != "all"
    bank = (FeatureBank(model, faces, config, weights.model_id, device, cache_dir, report, augment)
            if frozen_trunk else None)
    sample = _scale_sample(faces, bank, config.seed)
    if scale_before is None:
        scale_before = mean_different_distance(model, sample, config.trainable, device)
    if validation is not None:
        validation.prepare(model, config.trainable, device, config.feature_batch, report,
                           weights.model_id, cache_dir)
        if not history:
            before = validation.evaluate(model, config.trainable, device)
            history.append(EpochRecord(0, validation=before))
            report(EpochDone(history[-1]))
            best = (float(before["accuracy"]), 0, _cpu_state(model, changing))

    labels_all = torch.from_numpy(faces.labels)
    views = config.views if frozen_trunk else 1
    for epoch in range(first_epoch, config.epochs + 1):
        epoch_started = time.monotonic()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 100_003 + epoch)
        batches = plan_epoch(faces.labels, config, rng, views)
        total_loss, total, active, semi, fallback = 0.0, 0, 0, 0, 0
        for step, (face_index, view_index) in enumerate(batches, 1):
            if bank is not None:
                inputs = bank.take(face_index, view_index).to(device)
            else:
                crops = torch.from_numpy(faces.crops[face_index]).permute(0, 3, 1, 2).float()
                crops = apply(crops, [augment.draw(rng) for _ in face_index])
                inputs = ((crops - 127.5) / 128.0).to(device)
            labels = labels_all[torch.from_numpy(face_index)].to(device)
            embeddings = head(model, inputs, config.trainable)
            triplets = mine(embeddings, labels, config.margin)
            if len(triplets) == 0:
                continue
            losses = triplet_loss(embeddings[triplets.anchor], embeddings[triplets.positive],
                                  embeddings[triplets.negative], config.margin)
            loss = losses.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(losses.detach().sum())
            total += len(triplets)
            active += int((losses > 0).sum())
            semi += triplets.count(SEMI_HARD)
            fallback += triplets.count(FALLBACK)
            elapsed = time.monotonic() - epoch_started
            report(Step(epoch, config.epochs, step, len(batches), total_loss / max(1, total),
                        active / max(1, total), elapsed / step * (len(batches) - step)))
        record = EpochRecord(epoch, loss=total_loss / max(1, total), active=active / max(1, total),
                             semi_hard=semi / max(1, total), fallback=fallback / max(1, total),
                             triplets=total)
        if validation is not None:
            record.validation = validation.evaluate(model, config.trainable, device)
            score = float(record.validation["accuracy"])
            if best is None or score > best[0]:
                best = (score, epoch, _cpu_state(model, changing))
        record.seconds = time.monotonic() - epoch_started
        history.append(record)
        report(EpochDone(record))
        _save_atomic({"format": CHECKPOINT_FORMAT, "config": asdict(config), "epoch": epoch,
                      "model": _cpu_state(model, changing), "optimizer": optimizer.state_dict(),
                      "history": json.dumps([asdict(r) for r in history]),
                      "dataset": fingerprint, "base_model": weights.model_id,
                      "scale_before": scale_before,
                      "best_score": best[0] if best else math.nan,
                      "best_epoch": best[1] if best else -1,
                      "best_state": best[2] if best else None}, checkpoint)

    if config.keep == "best" and best is not None:
        kept_epoch = best[1]
        model.load_state_dict(best[2], strict=False)
    else:
        kept_epoch = config.epochs
    kept_state = _cpu_state(model)
    scale = distance_scale(weights) * mean_different_distance(model, sample, config.trainable,
                                                              device) / scale_before
    meta = {"base_model": weights.model_id, "trainable": config.trainable, "epoch": kept_epoch,
            "distance_scale": round(scale, 6),
            "config": json.dumps(asdict(config)), "dataset": json.dumps(faces.summary()),
            **(extra_meta or {})}
    _save_atomic({"state_dict": kept_state, "faceorganizer": meta}, out)
    return TrainResult(out=out, kept_epoch=kept_epoch, history=history, dataset=faces.summary(),
                       config=config, base_model=weights.model_id,
                       seconds=time.monotonic() - started, extra={"distance_scale": round(scale, 6)})
