"""Personalise on a real library: the album, scanned and labelled as a user would.

1. Scans ``../shared/data/album`` into a new library with the real models.
2. Labels it as a user would: every single portrait's face is put into its person
   (album.csv) and the person named: 13 people with 2 to 11 photos each.
3. Runs ``faceorganizer personalize`` on it: training on 10 of them, checking on the
   other 3 (clustering, verification, look-alikes), switching the library if no worse.
4. Measures the personalised weights on LFW (4,281 people; 4 of the album's 14 are
   among them): the full 10-fold accuracy and the clustering of fold 10's 609 people
   (``lfw_finetune.py``), before and after.

    .venv/bin/python benchmarks/personalize_album.py [--epochs N] [--lr LR] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

from faceorganizer.cli import main as cli
from faceorganizer.jobs import scan_and_group
from faceorganizer.models.loader import load_models
from faceorganizer.people import operations as ops
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Photo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_finetune import compare_on_fold_10

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))


def label(library: Library) -> int:
    with (DATA / "album.csv").open() as handle:
        truth = {row["file"]: row["identities"].split(";") for row in csv.DictReader(handle)}
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face.id, Face.x1, Face.y1, Face.x2, Face.y2)
                               .join(Face)).all()
    largest: dict[str, tuple[float, int]] = {}
    for path, face, x1, y1, x2, y2 in rows:
        name, area = Path(path).name, (x2 - x1) * (y2 - y1)
        if name not in largest or area > largest[name][0]:
            largest[name] = (area, face)
    by_person: dict[str, list[int]] = {}
    for name, people in truth.items():
        if len(people) == 1 and name in largest:
            by_person.setdefault(people[0], []).append(largest[name][1])
    for person, faces in by_person.items():
        ops.create_person(library, faces, person)
    return len(by_person)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", default="10")
    parser.add_argument("--lr", default="1e-4")
    parser.add_argument("--seed", default="0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "album.sqlite"
        models = load_models("cpu", workers=2)
        with Library(path) as library:
            for _ in scan_and_group(library, [DATA / "album"], lambda: models):
                pass
            people = label(library)
        print(f"album library: {people} named people")
        out = Path(folder) / "personal.pt"
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            cli(["personalize", "--library", str(path), "--epochs", args.epochs, "--lr", args.lr,
                 "--seed", args.seed, "--out", str(out), "--device", "cpu", "--json"])
        report = json.loads(buffer.getvalue())
        print(json.dumps({k: report[k] for k in ("accepted", "reasons", "trained_people",
                                                 "held_out_people", "before", "after")}, indent=2))
        compare_on_fold_10(str(out))


if __name__ == "__main__":
    main()
