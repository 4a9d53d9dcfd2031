"""Faces the user draws: cut and embedded like detected ones, kept by rescans; hostile boxes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import select

from faceorganizer.cli import main
from faceorganizer.drawn import DrawnFaceError, add_face, checked_box
from faceorganizer.people.search import FaceIndex
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person
from faceorganizer.store.states import FaceOrigin, FaceState
from tests.fakes import FakeEmbedder, face_image, fake_models


def scan(library: Library, folder: Path) -> None:
    list(Scanner(library, fake_models, ScanSettings(workers=1)).scan([folder]))


@pytest.fixture
def scanned(tmp_path: Path):
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    # a second "face" the detector misses: a dark square with the same middle as a.jpg's face
    face_image(album / "b.jpg", [(50, 50, 0), (250, 150, 0)], colour=(200, 200, 200))
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        yield library, album


def test_a_drawn_face_is_embedded_like_a_detected_one_and_found_by_search(scanned) -> None:
    library, album = scanned
    with library.reader() as session:
        assert session.scalars(select(Face)).all()[0].photo.path.endswith("a.jpg")
        assert len(session.scalars(select(Face)).all()) == 1  # b.jpg's grey squares were missed
        detected = session.scalars(select(Face)).one()
        detected_id, detected_embedding = detected.id, detected.embedding
    added = add_face(library, album / "b.jpg", (250, 150, 310, 210), FakeEmbedder())
    with library.reader() as session:
        face = session.get(Face, added.face)
        assert face is not None and face.origin == FaceOrigin.DRAWN
        assert face.box == (250.0, 150.0, 310.0, 210.0) and face.person_id is None
        # the same middle colour as a.jpg's face: the same "person" to the fake embedder
        assert float(face.embedding @ detected_embedding) > 0.99
    index = FaceIndex.load(library)
    hits = index.search(index.embedding_of(detected_id), top=10, threshold=0.5)
    assert {h.face for h in hits} == {detected_id, added.face}


def test_naming_a_drawn_face_and_a_rescan_keeps_it(scanned, tmp_path: Path) -> None:
    library, album = scanned
    added = add_face(library, str(album / "b.jpg"), (100, 10, 180, 90), FakeEmbedder(), name="  Pat  ")
    assert added.name == "Pat" and added.person is not None
    again = add_face(library, album / "a.jpg", (200, 150, 280, 230), FakeEmbedder(), name="Pat")
    assert again.person == added.person  # the person of that name, not a second "Pat"
    # the photo is edited: re-detection replaces detected faces, never drawn ones
    face_image(album / "b.jpg", [(50, 50, 0), (250, 150, 0)], colour=(190, 190, 190))
    scan(library, album)
    with library.reader() as session:
        face = session.get(Face, added.face)
        assert face is not None and face.origin == FaceOrigin.DRAWN
        assert face.state == FaceState.CONFIRMED and session.get(Person, face.person_id).name == "Pat"


@pytest.mark.parametrize("box,message", [
    ((10, 10, 5, 50), "X2 > X1"),
    ((float("nan"), 0, 50, 50), "finite"),
    ((0, 0, float("inf"), 50), "finite"),
    ((-500, -500, -400, -400), "lie on the photo"),
    ((398, 10, 900, 90), "lie on the photo"),  # 2 px left on the photo
    ((10, 10, 14, 14), "at least 8"),
    ((1, 2, 3), "four numbers"),
    (("a", 2, 3, 4), "four numbers"),
])
def test_boxes_that_cannot_be_faces_are_refused_with_a_reason(scanned, box, message) -> None:
    library, album = scanned
    with pytest.raises(DrawnFaceError, match=message):
        add_face(library, album / "b.jpg", box, FakeEmbedder())
    with library.reader() as session:
        assert len(session.scalars(select(Face)).all()) == 1


def test_a_huge_box_is_clipped_to_the_photo() -> None:
    assert checked_box((-1e300, -5, 1e300, 1e9), 400, 300) == (0.0, 0.0, 400.0, 300.0)
    assert all(math.isfinite(v) for v in checked_box((0, 0, 1e308, 1e308), 400, 300))


def test_a_face_already_there_a_photo_not_scanned_or_changed_are_refused(scanned, tmp_path: Path) -> None:
    library, album = scanned
    with pytest.raises(DrawnFaceError, match="already there"):
        add_face(library, album / "a.jpg", (52, 48, 112, 108), FakeEmbedder())
    with pytest.raises(DrawnFaceError, match="scan its folder first"):
        add_face(library, tmp_path / "elsewhere.jpg", (0, 0, 50, 50), FakeEmbedder())
    face_image(album / "a.jpg", [(50, 50, 0)], size=(300, 400))  # replaced since the scan
    with pytest.raises(DrawnFaceError, match="changed since"):
        add_face(library, album / "a.jpg", (200, 200, 260, 260), FakeEmbedder())
    (album / "a.jpg").unlink()
    with pytest.raises(DrawnFaceError, match="cannot be read"):
        add_face(library, album / "a.jpg", (200, 200, 260, 260), FakeEmbedder())


def test_add_face_command_json_contract(scanned, capsys, monkeypatch) -> None:
    library, album = scanned
    monkeypatch.setattr("faceorganizer.models.loader.load_models", lambda *a, **k: fake_models())
    monkeypatch.setattr("faceorganizer.reembed.library_weights", lambda *a, **k: None)
    code = main(["add-face", str(album / "b.jpg"), "250", "150", "310", "210", "--name", "Gil",
                 "--library", str(library.path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"face", "photo", "box", "person", "name", "state"}
    assert result["box"] == [250.0, 150.0, 310.0, 210.0] and result["name"] == "Gil"
    assert result["state"] == "confirmed" and result["photo"] == str(album / "b.jpg")
    code = main(["add-face", str(album / "b.jpg"), "0", "0", "3", "3", "--library", str(library.path)])
    _, err = capsys.readouterr()
    assert code != 0 and "at least 8" in err
