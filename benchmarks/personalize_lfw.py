"""Personalise on a harder "library": LFW people with many photos, then check on unseen ones.

The album's 13 people are already far apart for the built-in weights (every triplet
meets the margin: there is nothing to learn). Here a library is stood in for by the
``--people`` people of LFW folds 1-9 with the most crops (5 or more each), labelled.
``personalize`` trains on three quarters of them and checks on the rest (clustering,
verification, look-alikes); then the weights are measured on fold 10's 600 pairs and
609 people, whom nothing here saw (``lfw_finetune.py``).

    .venv/bin/python benchmarks/personalize_lfw.py [--people 40] [--epochs 10] [--lr 1e-4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from faceorganizer.models.weights import distance_scale, resolve
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.training import data
from faceorganizer.training.personalize import personalize
from faceorganizer.training.trainer import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_finetune import LFW, compare_on_fold_10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folds = data.read_lfw_folds(LFW / "people.txt")
    counts = {n: len(list((LFW / "images" / n).glob("*.jpg"))) for n, f in folds.items() if f <= 9}
    chosen = sorted(sorted(counts, key=lambda n: (-counts[n], n))[:args.people])
    faces = data.from_folder(LFW, aligned=True, people=chosen)
    print(f"{len(chosen)} people, {len(faces)} crops ({min(counts[n] for n in chosen)} to "
          f"{max(counts[n] for n in chosen)} each)")
    config = TrainConfig(epochs=args.epochs, lr=args.lr, seed=args.seed, keep="last")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "personal.pt"
        result = personalize(faces, resolve(None), out, config, PeopleSettings())
        history = [(r.epoch, round(r.loss or 0, 4), round(r.active or 0, 3))
                   for r in result.training.history]
        print("epochs (loss, active):", history)
        print(json.dumps({"accepted": result.accepted, "reasons": result.reasons,
                          "trained_people": result.trained_people,
                          "held_out_people": result.held_out_people,
                          "before": {**asdict(result.before), "ratio": result.before.lookalike_ratio},
                          "after": {**asdict(result.after), "ratio": result.after.lookalike_ratio},
                          "distance_scale": {"training faces": result.training.extra["distance_scale"],
                                             "held-out people (kept)": distance_scale(resolve(out))}},
                         indent=2))
        compare_on_fold_10(str(out))


if __name__ == "__main__":
    main()
