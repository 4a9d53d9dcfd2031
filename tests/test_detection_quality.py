"""Detection quality on real photos with the default settings (the issue's targets)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from faceorganizer.analysis import analyze
from faceorganizer.settings import ScanSettings
from faceorganizer.store.faces import iou

pytestmark = pytest.mark.slow


def faces_in(path: Path, models) -> list:
    return analyze(path.read_bytes(), models.detector, ScanSettings()).faces


def test_every_album_photo_has_its_expected_number_of_faces(data_dir: Path, real_models) -> None:
    wrong = []
    with (data_dir / "album.csv").open() as handle:
        for row in csv.DictReader(handle):
            found = len(faces_in(data_dir / "album" / row["file"], real_models))
            if not int(row["faces_min"]) <= found <= int(row["faces_max"]):
                wrong.append((row["file"], found, row["faces_min"], row["faces_max"]))
    assert wrong == []


def test_at_least_90_percent_of_the_voc_face_boxes_are_found(data_dir: Path, real_models) -> None:
    truth: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    with (data_dir / "groups" / "voc_face_boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            left, top = float(row["left"]), float(row["top"])
            truth[row["file"]].append((left, top, left + float(row["width"]),
                                       top + float(row["height"])))
    assert sum(len(b) for b in truth.values()) == 43
    hits = 0
    for name, boxes in truth.items():
        found = [f.detection.box for f in faces_in(data_dir / "groups" / name, real_models)]
        hits += sum(1 for box in boxes if any(iou(box, f) >= 0.4 for f in found))
    assert hits / 43 >= 0.9, f"{hits} of 43"


def test_photos_without_people_yield_at_most_two_faces(data_dir: Path, real_models) -> None:
    photos = sorted((data_dir / "negatives").iterdir())
    assert len(photos) == 22
    found = {p.name: len(faces_in(p, real_models)) for p in photos}
    assert sum(found.values()) <= 2, {k: v for k, v in found.items() if v}
