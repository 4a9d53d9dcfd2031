"""LFW evidence for triplet fine-tuning: people of folds 1-9 trained on, fold 10 tested.

LFW View 2's people.txt and pairs.txt share their 10 folds, and no person is in two
folds, so fold 10's 600 pairs and its people are unseen by a run trained with
``faceorganizer train ../shared/data/lfw --aligned --lfw-folds 1-9``. For the built-in
weights and each ``--weights`` file this prints:

- fold 10 accuracy with the threshold chosen on folds 1-9's pairs (the LFW protocol's
  split for that fold) and with the threshold cross-validated inside fold 10 (10 parts);
- VAL at FAR 0.1% on fold 10 (threshold from folds 1-9's different-person pairs);
- clustering of every fold-10 crop (1,145 crops of 609 people, most seen once) with
  the library's default settings, multiplied by the weights' distance scale as a
  library on those weights does: BCubed precision, recall and F;
- the full 10-fold LFW accuracy, for reference only (optimistic after fine-tuning,
  since folds 1-9's people were trained on).

Embeddings are cached in the user cache folder per model (a few minutes each).

    .venv/bin/python benchmarks/lfw_finetune.py --weights /tmp/lfw19.pt
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from faceorganizer.evaluation.lfw import (
    Pairs,
    accuracy_at,
    best_threshold,
    embed_images,
    evaluate_distances,
    image_path,
    load_crop,
    pair_distances,
    read_pairs,
)
from faceorganizer.evaluation.metrics import score
from faceorganizer.models.embedder import standardise
from faceorganizer.models.loader import load_models
from faceorganizer.models.weights import BUILTIN_MODEL_ID, distance_scale, load_model, read_metadata, resolve
from faceorganizer.paths import cache_dir
from faceorganizer.people.clustering import cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.training.data import read_lfw_folds
from faceorganizer.training.network import head, trunk

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
LFW = DATA / "lfw"


def fold_images(fold: int) -> list[tuple[str, int]]:
    folds = read_lfw_folds(LFW / "people.txt")
    out = []
    for name in sorted(n for n, f in folds.items() if f == fold):
        for path in sorted((LFW / "images" / name).glob("*.jpg")):
            out.append((name, int(path.stem[-4:])))
    return out


def trunk_features(images: list[tuple[str, int]]) -> dict:
    """The built-in weights' 1792-d pooled features of ``images``, cached: a bottleneck
    trained on top of them (``--trainable last``) is then measured in seconds."""
    path = cache_dir() / f"lfw-trunk-{BUILTIN_MODEL_ID}.npz"
    table: dict = {}
    if path.is_file():
        stored = np.load(path)
        keys = [(str(n), int(i)) for n, i in zip(stored["names"], stored["numbers"], strict=True)]
        table.update(zip(keys, stored["features"], strict=True))
    missing = [i for i in images if i not in table]
    if missing:
        started = time.monotonic()
        model = load_model(resolve(None)).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            for start in range(0, len(missing), 64):
                chunk = missing[start:start + 64]
                x = standardise(np.stack([load_crop(LFW / "images", i) for i in chunk]))
                out = trunk(model, x.contiguous(memory_format=torch.channels_last), "last").numpy()
                table.update(zip(chunk, out, strict=True))
        print(f"  trunk features of {len(missing)} crops in {time.monotonic() - started:.0f} s")
        keys = sorted(table)
        np.savez(path, names=np.array([n for n, _ in keys]), numbers=np.array([i for _, i in keys]),
                 features=np.stack([table[k] for k in keys]))
    return table


def embeddings(weights: str | None, images: list[tuple[str, int]], pairs: Pairs) -> dict:
    """Embeddings of ``images``, cached per model (reusing calibrate_people.py's cache)."""
    resolved = resolve(weights)
    meta = {} if resolved.builtin else read_metadata(resolved.path)
    if meta.get("trainable") == "last" and meta.get("base_model") == BUILTIN_MODEL_ID:
        features = trunk_features(images)
        model = load_model(resolved)
        with torch.inference_mode():
            vectors = head(model, torch.from_numpy(np.stack([features[i] for i in images])), "last")
        return dict(zip(images, vectors.numpy(), strict=True))
    path = cache_dir() / f"lfw-all-{resolved.model_id}.npz"
    table: dict = {}
    if path.is_file():
        stored = np.load(path)
        keys = [(str(n), int(i)) for n, i in zip(stored["names"], stored["numbers"], strict=True)]
        table.update(zip(keys, stored["vectors"], strict=True))
    older = cache_dir() / f"lfw-{resolved.model_id}.npy"  # sorted pairs.images, no flip
    if older.is_file():
        table.update(zip(pairs.images, np.load(older), strict=True))
    missing = [i for i in images if i not in table]
    if missing:
        started = time.monotonic()
        embedder = load_models("cpu", resolved).embedder
        table.update(embed_images(LFW / "images", missing, embedder.embed))
        print(f"  embedded {len(missing)} crops with {resolved.model_id} in "
              f"{time.monotonic() - started:.0f} s")
        keys = sorted(table)
        np.savez(path, names=np.array([n for n, _ in keys]), numbers=np.array([i for _, i in keys]),
                 vectors=np.stack([table[k] for k in keys]))
    return table


def measure(weights: str | None, pairs: Pairs, test_fold: int) -> dict:
    unseen = fold_images(test_fold + 1)
    images = sorted(set(pairs.images) | set(unseen))
    assert all(image_path(LFW / "images", i).is_file() for i in unseen)
    table = embeddings(weights, images, pairs)
    d = pair_distances(pairs, table)
    test, train = pairs.fold == test_fold, pairs.fold != test_fold
    threshold = best_threshold(d[train], pairs.same[train])
    inner = Pairs(10, [pairs.first[i] for i in np.flatnonzero(test)],
                  [pairs.second[i] for i in np.flatnonzero(test)], pairs.same[test],
                  np.arange(int(test.sum())) % 10)
    inner_result = evaluate_distances(d[test], inner)
    different = np.sort(d[train & ~pairs.same])
    far_threshold = different[int(0.001 * len(different))]
    test_same, test_diff = d[test & pairs.same], d[test & ~pairs.same]
    labels = [name for name, _ in unseen]
    vectors = np.stack([table[i] for i in unseen])
    scale = distance_scale(resolve(weights))
    clusters = cluster(vectors, PeopleSettings().scaled(scale).cluster_params)
    scores = score(clusters.tolist(), labels)
    full = evaluate_distances(d, pairs)
    return {"fold_accuracy": accuracy_at(d[test], pairs.same[test], threshold), "threshold": threshold,
            "fold_accuracy_cv": inner_result.accuracy,
            "fold_val": float(np.mean(test_same < far_threshold)),
            "fold_far": float(np.mean(test_diff < far_threshold)),
            "cluster_precision": scores.bcubed_precision, "cluster_recall": scores.bcubed_recall,
            "cluster_f": scores.bcubed_f, "cluster_people": len(set(labels)), "cluster_crops": len(labels),
            "lfw_10fold": full.accuracy, "lfw_10fold_std": full.std, "distance_scale": scale}


def compare_on_fold_10(weights: str) -> None:
    """One line each for the built-in weights and ``weights``, measured on fold 10."""
    pairs = read_pairs(LFW / "pairs.txt")
    for title, chosen in (("built-in", None), ("personalised", weights)):
        r = measure(chosen, pairs, 9)
        print(f"{title:13} fold 10: accuracy {100 * r['fold_accuracy']:.2f}% (threshold from "
              f"folds 1-9), VAL {100 * r['fold_val']:.1f}% at FAR 0.1%, clustering BCubed "
              f"P {100 * r['cluster_precision']:.2f} R {100 * r['cluster_recall']:.2f} "
              f"F {100 * r['cluster_f']:.2f}; LFW 10-fold {100 * r['lfw_10fold']:.2f}% "
              f"+- {100 * r['lfw_10fold_std']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", default=[], help="fine-tuned weights to compare")
    parser.add_argument("--test-fold", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    pairs = read_pairs(LFW / "pairs.txt")
    results = {}
    for weights in [None, *args.weights]:
        label = "built-in" if weights is None else Path(weights).name
        results[label] = measure(weights, pairs, args.test_fold - 1)
    print(f"\nfold {args.test_fold} (unseen people)   " + "  ".join(f"{k:>16}" for k in results))
    rows = [("accuracy, threshold from other folds", "fold_accuracy", 100),
            ("accuracy, threshold cross-validated", "fold_accuracy_cv", 100),
            ("VAL at FAR 0.1% (from other folds)", "fold_val", 100),
            ("  FAR reached on the fold", "fold_far", 100),
            ("clustering BCubed precision", "cluster_precision", 100),
            ("clustering BCubed recall", "cluster_recall", 100),
            ("clustering BCubed F", "cluster_f", 100),
            ("threshold (squared L2)", "threshold", 1),
            ("distance scale (from training)", "distance_scale", 1),
            ("LFW 10-fold (folds 1-9 seen!)", "lfw_10fold", 100)]
    for title, key, scale in rows:
        print(f"{title:38}" + "  ".join(f"{scale * r[key]:16.2f}" for r in results.values()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
