"""``evaluate clusters`` on a folder per person, through the whole pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from faceorganizer.cli import main

pytestmark = pytest.mark.slow


def test_evaluate_clusters_on_a_folder_per_person(tmp_path: Path, data_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "people"
    people = {"obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
              "biden": ["biden.jpg"], "kit": []}
    for person, files in people.items():
        (folder / person).mkdir(parents=True)
        for name in files:
            shutil.copy(data_dir / "known" / name, folder / person / name)
    for name in ["john1.jpeg", "john2.jpeg"]:
        shutil.copy(data_dir / "known" / "train" / "kit_harington" / name, folder / "kit" / name)
    shutil.copy(data_dir / "known" / "train" / "biden" / "biden2.jpg", folder / "biden" / "b2.jpg")
    assert main(["evaluate", "clusters", str(folder), "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["photos"] == 7 and result["people_true"] == 3
    assert result["bcubed_precision"] == 1.0
    assert result["people_found"] == 3 and result["bcubed_f"] == 1.0
    assert set(result) >= {"bcubed_recall", "pairwise_f1", "pairwise_precision", "pairwise_recall"}
