"""Names in files with the real models, end to end through the command line: add-face draws a
face the detector missed, write-tags writes the names, and a new library scanning the same
photos gets the same named people, a rotated photo included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from faceorganizer.people import operations
from faceorganizer.store import Library
from tests.cli.test_cli import cli

pytestmark = pytest.mark.slow


def run_json(*args: str) -> object:
    done = cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def named_people(library: Path) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """name -> sorted (photo file name, rounded box) of its faces."""
    people = run_json("people", "--library", str(library))
    assert isinstance(people, list)
    return {p["name"]: sorted((Path(f["photo"]).name, tuple(round(v / 4) for v in f["box"]))
                              for f in p["faces"])
            for p in people if p["name"]}


def test_add_face_write_tags_and_a_new_library_reads_the_same_names(tmp_path: Path,
                                                                    data_dir: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for name in ["img1.jpg", "img2.jpg", "couple.jpg"]:
        shutil.copy(data_dir / "album" / name, root / name)
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned right: regions must be written in the stored orientation
    with Image.open(data_dir / "album" / "img18.jpg") as original:
        original.rotate(-90, expand=True).save(root / "turned.jpg", exif=exif, quality=95)
    first = tmp_path / "first.sqlite"
    summary = run_json("scan", str(root), "--library", str(first))
    assert isinstance(summary, dict) and summary["tag_conflicts"] == [] and summary["warnings"] == []

    faces = run_json("faces", "--library", str(first))
    assert isinstance(faces, list)
    by_photo: dict[str, list[dict]] = {}
    for face in faces:
        by_photo.setdefault(Path(face["photo"]).name, []).append(face)
    assert len(by_photo["couple.jpg"]) == 2 and len(by_photo["turned.jpg"]) == 1

    # a box where the detector found a face is refused; one elsewhere becomes a drawn face
    x1, y1, x2, y2 = by_photo["img1.jpg"][0]["box"]
    shifted = [str(v + 2) for v in (x1, y1, x2, y2)]
    refused = cli("add-face", str(root / "img1.jpg"), *shifted, "--library", str(first))
    assert refused.returncode != 0 and "already there" in refused.stderr
    with Image.open(root / "img1.jpg") as image:
        width, height = image.size
    drawn = run_json("add-face", str(root / "img1.jpg"), "0", "0", str(width // 5), str(height // 5),
                     "--name", "Corner", "--library", str(first))
    assert isinstance(drawn, dict) and drawn["name"] == "Corner" and drawn["state"] == "confirmed"

    names = {"couple.jpg": ["Left", "Right"], "turned.jpg": ["Tess"], "img2.jpg": ["Ivo"]}
    with Library(first) as library:
        for photo, people in names.items():
            for face, name in zip(sorted(by_photo[photo], key=lambda f: f["box"][0]), people, strict=True):
                operations.create_person(library, [face["id"]], name)
    expected = named_people(first)
    assert set(expected) == {"Corner", "Left", "Right", "Tess", "Ivo"}

    report = run_json("write-tags", "--library", str(first))
    assert report == {"written": 4, "unchanged": 0, "failed": []}
    assert run_json("write-tags", "--library", str(first)) == {"written": 0, "unchanged": 4, "failed": []}

    second = tmp_path / "second.sqlite"
    summary = run_json("scan", str(root), "--library", str(second))
    assert isinstance(summary, dict) and summary["warnings"] == []
    assert named_people(second) == expected
