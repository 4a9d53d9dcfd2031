"""The scan at its edges: restored photos beside copies, failed files, roots that share a prefix."""

from __future__ import annotations

import os
import random
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from faceorganizer.scan import scanner as scanner_module
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Photo
from tests.fakes import face_image, fake_models
from tests.scan.test_scanner import faces_by_photo, photos, run_scan


@pytest.fixture
def six(tmp_path: Path) -> Path:
    root = tmp_path / "six"
    for i in range(6):
        face_image(root / f"img{i}.jpg", [(50, 50, i * 40)])
    return root


@pytest.mark.parametrize("keep_mtime", [True, False], ids=["same-mtime", "new-mtime"])
def test_a_photo_restored_beside_a_copy_of_itself_keeps_its_faces(
        library: Library, six: Path, tmp_path: Path, keep_mtime: bool) -> None:
    run_scan(library, fake_models(), [six])
    row = photos(library)["img1.jpg"].id
    faces = faces_by_photo(library)["img1.jpg"]
    away = tmp_path / "away.jpg"
    shutil.move(six / "img1.jpg", away)
    assert run_scan(library, fake_models(), [six]).missing == 1
    if keep_mtime:
        shutil.move(away, six / "img1.jpg")
    else:
        shutil.copyfile(away, six / "img1.jpg")  # a new mtime: the photo is read again
    shutil.copy(six / "img1.jpg", six / "copy-of-img1.jpg")
    summary = run_scan(library, fake_models(), [six])
    assert (summary.new, summary.moved, summary.missing) == (1, 0, 0)
    after = photos(library)
    assert after["img1.jpg"].id == row and after["img1.jpg"].status == "ok"
    assert faces_by_photo(library)["img1.jpg"] == faces
    copy_faces = faces_by_photo(library)["copy-of-img1.jpg"]
    assert len(copy_faces) == 1 and copy_faces[0] not in faces
    # and a rescan changes nothing
    again = run_scan(library, fake_models(), [six])
    assert (again.new, again.moved, again.unchanged) == (0, 0, 7)
    assert faces_by_photo(library)["img1.jpg"] == faces


def test_a_moved_photo_is_claimed_once_even_with_two_copies(library: Library, six: Path) -> None:
    run_scan(library, fake_models(), [six])
    faces = faces_by_photo(library)["img2.jpg"]
    shutil.copy(six / "img2.jpg", six / "a.jpg")
    shutil.move(six / "img2.jpg", six / "b.jpg")
    summary = run_scan(library, fake_models(), [six])
    assert (summary.moved, summary.new, summary.missing) == (1, 1, 0)
    by_photo = faces_by_photo(library)
    assert faces in (by_photo["a.jpg"], by_photo["b.jpg"])
    assert len(set(by_photo["a.jpg"]) | set(by_photo["b.jpg"])) == 2


def _broken(root: Path) -> Path:
    path = root / "broken.jpg"
    path.write_bytes(b"not really a photo")
    return path


def test_an_unchanged_failed_file_is_not_read_again(library: Library, six: Path) -> None:
    broken = _broken(six)
    first = run_scan(library, fake_models(), [six])
    assert first.failed == 1
    models = fake_models()
    loaded = []

    def factory():
        loaded.append(True)
        return models

    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings

    events = list(Scanner(library, factory, ScanSettings()).scan([six]))
    summary = events[-1].summary
    assert loaded == []  # no file to read: the models are never loaded
    assert (summary.failed, summary.still_failed, summary.unchanged) == (1, 1, 6)
    assert [f.path for f in summary.failures] == [str(broken)]
    assert "not an image" in summary.failures[0].error

    # A change to the file is read again...
    face_image(broken)
    fixed = run_scan(library, fake_models(), [six])
    assert (fixed.failed, fixed.changed) == (0, 1)
    assert photos(library)["broken.jpg"].status == "ok"


def test_retry_failed_reads_unchanged_failed_files_again(library: Library, six: Path) -> None:
    _broken(six)
    run_scan(library, fake_models(), [six])
    models = fake_models()
    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings

    events = list(Scanner(library, lambda: models, ScanSettings(), retry_failed=True).scan([six]))
    summary = events[-1].summary
    assert (summary.failed, summary.still_failed) == (1, 0)
    assert models.detector.calls == 0  # it failed again in decoding, before detection


def test_a_failed_file_that_went_missing_and_came_back_is_still_failed(
        library: Library, six: Path, tmp_path: Path) -> None:
    broken = _broken(six)
    run_scan(library, fake_models(), [six])
    shutil.move(broken, tmp_path / "b.jpg")
    assert run_scan(library, fake_models(), [six]).missing == 1
    shutil.move(tmp_path / "b.jpg", broken)
    summary = run_scan(library, fake_models(), [six])
    assert summary.failed == 1
    assert photos(library)["broken.jpg"].status == "failed"


def test_a_moved_failed_file_is_not_taken_for_an_analysed_photo(
        library: Library, six: Path) -> None:
    broken = _broken(six)
    run_scan(library, fake_models(), [six])
    shutil.move(broken, six / "renamed.jpg")
    summary = run_scan(library, fake_models(), [six])
    assert summary.failed == 1
    assert photos(library)["renamed.jpg"].status == "failed"


def test_roots_are_matched_by_whole_folder_names(library: Library, tmp_path: Path) -> None:
    photos_dir, old = tmp_path / "photos", tmp_path / "photos-old"
    face_image(photos_dir / "a.jpg")
    face_image(old / "b.jpg")
    bad = os.path.join(os.fsencode(old), b"bad-\xff.jpg")
    with open(bad, "wb") as handle:
        handle.write(b"x")
    run_scan(library, fake_models(), [photos_dir, old])
    with library.reader() as session:
        from faceorganizer.store.schema import Root

        roots = {r.path: r.id for r in session.scalars(select(Root))}
        rows = {Path(p.path).name: p.root_id for p in session.scalars(select(Photo))}
    assert set(roots) == {str(photos_dir), str(old)}
    assert rows == {"a.jpg": roots[str(photos_dir)], "b.jpg": roots[str(old)],
                    "bad-\\xff.jpg": roots[str(old)]}
    # scanning photos/ again does not mark photos-old/ as missing
    assert run_scan(library, fake_models(), [photos_dir]).missing == 0
    assert {p.status for p in photos(library).values()} == {"ok", "failed"}


def test_the_same_folder_gives_the_same_library_whatever_order_workers_finish_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Results are taken in the order files were found: ids follow the walk, scan after scan."""
    root = tmp_path / "photos"
    for i in range(24):
        face_image(root / f"{i:02d}.jpg", [(50, 50, i * 10)])
    real = scanner_module.Scanner._prepare
    jitter = random.Random(5)

    def scrambled(self, work, move_hashes):  # workers finish in a scrambled order
        threading.Event().wait(jitter.random() * 0.01)
        return real(self, work, move_hashes)

    monkeypatch.setattr(scanner_module.Scanner, "_prepare", scrambled)
    layouts = []
    for n in range(2):
        with Library(tmp_path / f"l{n}.sqlite") as library:
            run_scan(library, fake_models(), [root], workers=3)
            found = sorted((p.id, name, faces_by_photo(library)[name]) for name, p in photos(library).items())
        assert [name for _, name, _ in found] == sorted(name for _, name, _ in found)  # ids in walk order
        layouts.append(found)
    assert layouts[0] == layouts[1]


def test_switching_the_detector_detects_every_photo_again_keeping_faces_and_decisions(tmp_path: Path) -> None:
    from faceorganizer.people import operations
    from faceorganizer.store.schema import Face, Photo

    root = tmp_path / "photos"
    for i in range(3):
        face_image(root / f"img{i}.jpg", [(50, 50, i * 40)])
    with Library(tmp_path / "library.sqlite") as library:
        first = Scanner(library, fake_models, ScanSettings(workers=1, detector="mtcnn"))
        list(first.scan([root]))
        with library.reader() as session:
            before = {f.id: f.box for f in session.scalars(select(Face))}
            assert {f.detector for f in session.scalars(select(Face))} == {"mtcnn"}
        named = min(before)
        person = operations.create_person(library, [named], "Ann")

        models = fake_models()
        switched = Scanner(library, lambda: models, ScanSettings(workers=1, detector="retinaface"))
        summary = [e for e in switched.scan([root])][-1].summary
        assert (summary.changed, summary.unchanged) == (3, 0)
        assert models.detector.calls == 3
        with library.reader() as session:
            faces = {f.id: f for f in session.scalars(select(Face))}
            assert {i: f.box for i, f in faces.items()} == before  # the same faces, the same ids
            assert {f.detector for f in faces.values()} == {"retinaface"}
            assert faces[named].person_id == person and faces[named].state == "confirmed"
            assert {p.detector for p in session.scalars(select(Photo))} == {"retinaface"}

        again = Scanner(library, fake_models, ScanSettings(workers=1, detector="retinaface"))
        assert [e for e in again.scan([root])][-1].summary.unchanged == 3
