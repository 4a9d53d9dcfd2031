"""The command line end to end, with the real models: the JSON contract of each command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from faceorganizer.cli import main
from faceorganizer.store import migrations
from faceorganizer.store.faces import iou

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faceorganizer", *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """A folder of real photos (some portraits, a group, a rotated copy, a broken file),
    scanned once through ``python -m faceorganizer scan --json``."""
    root = tmp_path_factory.mktemp("photos")
    for name in ["img1.jpg", "img2.jpg", "img18.jpg", "couple.jpg"]:
        shutil.copy(data_dir / "album" / name, root / name)
    shutil.copy(data_dir / "groups" / "voc_2007_007763.jpg", root / "group.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the stored pixels are turned left
    with Image.open(data_dir / "album" / "img18.jpg") as original:
        original.rotate(90, expand=True).save(root / "sideways.jpg", exif=exif, quality=95)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole JPEG")
    library = tmp_path_factory.mktemp("lib") / "library.sqlite"
    done = cli("scan", str(root), "--library", str(library), "--json")
    assert done.returncode == 0, done.stderr
    return root, library, json.loads(done.stdout)


def test_scan_summary(scanned) -> None:
    root, library, summary = scanned
    assert summary["new"] == 6 and summary["failed"] == 1
    assert (summary["unchanged"], summary["moved"], summary["missing"]) == (0, 0, 0)
    assert summary["faces"] == 1 + 1 + 1 + 2 + 7 + 1
    assert summary["failures"] == [{"path": str(root / "broken.jpg"),
                                    "error": summary["failures"][0]["error"]}]
    assert summary["seconds"] > 0 and summary["library"] == str(library)
    assert summary["people"]["people"] >= 2 and summary["people"]["new_people"] >= 2


def test_photos_json(scanned) -> None:
    root, library, _ = scanned
    done = cli("photos", "--library", str(library), "--json")
    assert done.returncode == 0, done.stderr
    photos = {Path(p["path"]).name: p for p in json.loads(done.stdout)}
    assert set(photos) == {"img1.jpg", "img2.jpg", "img18.jpg", "couple.jpg", "group.jpg",
                           "sideways.jpg", "broken.jpg"}
    assert set(photos["img1.jpg"]) == {"id", "path", "status", "error", "faces"}
    assert photos["couple.jpg"]["path"] == str(root / "couple.jpg")
    assert (photos["couple.jpg"]["status"], photos["couple.jpg"]["faces"]) == ("ok", 2)
    broken = photos["broken.jpg"]
    assert broken["status"] == "failed" and broken["faces"] == 0 and broken["error"]


def test_faces_json_boxes_are_in_displayed_pixels(scanned) -> None:
    root, library, _ = scanned
    done = cli("faces", "--library", str(library), "--json")
    faces = json.loads(done.stdout)
    assert len(faces) == 13
    assert set(faces[0]) == {"id", "photo", "box", "probability", "person"}
    assert all(0.9 <= f["probability"] <= 1 for f in faces)
    person = {Path(f["photo"]).name: f["person"] for f in faces}
    assert person["img18.jpg"] is not None and person["img18.jpg"] == person["sideways.jpg"]
    assert person["img1.jpg"] == person["img2.jpg"] != person["img18.jpg"]
    by_photo = {Path(f["photo"]).name: f["box"] for f in faces}
    with Image.open(root / "img18.jpg") as image:
        width, height = image.size
    upright, sideways = by_photo["img18.jpg"], by_photo["sideways.jpg"]
    assert 0 <= sideways[0] < sideways[2] <= width and 0 <= sideways[1] < sideways[3] <= height
    assert iou(upright, sideways) > 0.9


def test_rescan_is_incremental_and_fast(scanned) -> None:
    root, library, _ = scanned
    done = cli("scan", str(root), "--library", str(library), "--json")
    summary = json.loads(done.stdout)
    assert (summary["new"], summary["unchanged"], summary["failed"]) == (0, 6, 1)
    assert summary["faces"] == 0


def test_text_summary_lists_failed_files(scanned, capsys) -> None:
    root, library, _ = scanned
    assert main(["scan", str(root), "--library", str(library)]) == 0
    out = capsys.readouterr().out
    assert "0 new, 6 unchanged" in out and "1 failed" in out
    assert f"{root / 'broken.jpg'}: " in out


def test_doctor_json(scanned) -> None:
    _, library, _ = scanned
    done = cli("doctor", "--library", str(library), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["packages"]["torch"] and report["packages"]["facenet-pytorch"] == "2.5.3"
    assert report["device"]["chosen"] in ("cpu", "cuda", "mps")
    assert report["weights"]["ok"] and report["weights"]["model_id"]
    assert report["library"]["schema_version"] == migrations.SCHEMA_VERSION
    assert report["library"]["photos"] == {"ok": 6, "failed": 1}


def test_missing_folder_and_bad_library_are_clear_errors(tmp_path: Path, capsys) -> None:
    assert main(["scan", str(tmp_path / "nope"), "--library", str(tmp_path / "l.sqlite")]) == 2
    assert "does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.sqlite"
    junk.write_text("hello")
    assert main(["photos", "--library", str(junk), "--json"]) == 2
    assert "not an SQLite database" in capsys.readouterr().err
    assert main(["faces", "--library", str(tmp_path / "none.sqlite")]) == 2
    assert "There is no library" in capsys.readouterr().err
