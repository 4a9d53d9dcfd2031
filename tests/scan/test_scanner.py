"""The scan with fake models: incremental, moves, missing photos, bad files, cancel, crashes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from faceorganizer.models.base import Models
from faceorganizer.scan import scanner as scanner_module
from faceorganizer.scan.events import ScanFinished, ScanProgress, ScanStarted, ScanSummary
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.photos import purge_missing
from faceorganizer.store.schema import Face, Photo
from tests.fakes import face_image, fake_models

REPO = Path(__file__).resolve().parents[2]


def run_scan(library: Library, models: Models, folders: list[Path], **settings) -> ScanSummary:
    scanner = Scanner(library, lambda: models, ScanSettings(**settings))
    events = list(scanner.scan(folders))
    assert isinstance(events[-1], ScanFinished)
    return events[-1].summary


def photos(library: Library) -> dict[str, Photo]:
    with library.reader() as session:
        return {os.path.basename(p.path): p for p in session.scalars(select(Photo))}


def faces_by_photo(library: Library) -> dict[str, list[int]]:
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face.id).join(Face).order_by(Face.id))
        out: dict[str, list[int]] = {}
        for path, face_id in rows:
            out.setdefault(os.path.basename(path), []).append(face_id)
        return out


@pytest.fixture
def album(tmp_path: Path) -> Path:
    root = tmp_path / "album"
    face_image(root / "one.jpg", [(50, 50, 0)])
    face_image(root / "two.png", [(20, 30, 100), (200, 100, 200)])
    face_image(root / "trip" / "none.jpg", [])
    return root


def test_scan_stores_photos_faces_and_reports_progress(library: Library, album: Path) -> None:
    models = fake_models()
    scanner = Scanner(library, lambda: models, ScanSettings())
    events = list(scanner.scan([album]))
    assert isinstance(events[0], ScanStarted) and events[0].total == 3
    progress = [e for e in events if isinstance(e, ScanProgress)]
    assert [e.done for e in progress] == [1, 2, 3]
    assert all(e.total == 3 and e.rate > 0 for e in progress)
    assert progress[-1].faces == 3 and progress[-1].eta == 0
    summary = events[-1].summary
    assert (summary.new, summary.faces, summary.failed) == (3, 3, 0)
    found = photos(library)
    assert {n: p.status for n, p in found.items()} == {"one.jpg": "ok", "two.png": "ok",
                                                      "none.jpg": "ok"}
    assert found["one.jpg"].path == str(album / "one.jpg")
    assert (found["one.jpg"].width, found["one.jpg"].height) == (400, 300)
    assert len(found["one.jpg"].content_hash or "") == 64
    with library.reader() as session:
        face = session.scalars(select(Face).join(Photo).where(Photo.path.endswith("one.jpg"))).one()
        assert face.box == (50.0, 50.0, 110.0, 110.0)
        assert face.embedding.shape == (512,) and face.embedding_model == "fake-embedder"


def test_crops_are_embedded_in_batches_across_photos(library: Library, tmp_path: Path) -> None:
    for i in range(12):
        face_image(tmp_path / "many" / f"{i:02}.jpg", [(50, 50, i * 20)])
    models = fake_models()
    run_scan(library, models, [tmp_path / "many"], embed_batch=8)
    assert models.embedder.calls == 2  # 12 faces in batches of 8, not 12 calls


def test_unchanged_photos_are_not_read_again(library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    models = fake_models()
    summary = run_scan(library, models, [album])
    assert (summary.new, summary.unchanged, summary.changed) == (0, 3, 0)
    assert models.detector.calls == 0 and models.embedder.calls == 0


def test_a_touched_photo_is_hashed_but_not_redetected(library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    os.utime(album / "one.jpg", ns=(1_000_000_000, 1_000_000_000))
    models = fake_models()
    summary = run_scan(library, models, [album])
    assert summary.unchanged == 3 and models.detector.calls == 0
    assert photos(library)["one.jpg"].mtime_ns == 1_000_000_000


def test_a_changed_photo_is_redetected_and_its_unchanged_face_keeps_its_id(
        library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    (old_id,) = faces_by_photo(library)["one.jpg"]
    face_image(album / "one.jpg", [(50, 50, 0), (250, 150, 90)])
    summary = run_scan(library, fake_models(), [album])
    assert (summary.changed, summary.unchanged, summary.faces) == (1, 2, 2)
    ids = faces_by_photo(library)["one.jpg"]
    assert len(ids) == 2 and ids[0] == old_id


def test_a_moved_photo_keeps_its_row_and_face_ids(library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    before = photos(library)["two.png"].id
    face_ids = faces_by_photo(library)["two.png"]
    (album / "trip" / "renamed").mkdir()
    shutil.move(album / "two.png", album / "trip" / "renamed" / "two-renamed.png")
    models = fake_models()
    summary = run_scan(library, models, [album])
    assert (summary.moved, summary.missing, summary.new) == (1, 0, 0)
    assert models.detector.calls == 0
    after = photos(library)
    assert "two.png" not in after
    assert after["two-renamed.png"].id == before
    assert after["two-renamed.png"].path == str(album / "trip" / "renamed" / "two-renamed.png")
    assert faces_by_photo(library)["two-renamed.png"] == face_ids


def test_a_photo_moved_to_another_folder_is_found_there_later(library: Library, album: Path,
                                                               tmp_path: Path) -> None:
    run_scan(library, fake_models(), [album])
    face_ids = faces_by_photo(library)["one.jpg"]
    (tmp_path / "elsewhere").mkdir()
    shutil.move(album / "one.jpg", tmp_path / "elsewhere" / "one.jpg")
    assert run_scan(library, fake_models(), [album]).missing == 1
    assert photos(library)["one.jpg"].status == "missing"
    summary = run_scan(library, fake_models(), [tmp_path / "elsewhere"])
    assert (summary.moved, summary.new) == (1, 0)
    assert photos(library)["one.jpg"].status == "ok"
    assert faces_by_photo(library)["one.jpg"] == face_ids


def test_a_copy_of_a_photo_is_a_photo_of_its_own(library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    shutil.copy(album / "one.jpg", album / "one-copy.jpg")
    summary = run_scan(library, fake_models(), [album])
    assert (summary.new, summary.moved) == (1, 0)
    assert len(faces_by_photo(library)["one-copy.jpg"]) == 1


def test_deleted_photos_are_marked_missing_kept_and_purged_only_on_request(
        library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    face_ids = faces_by_photo(library)["two.png"]
    moved_away = album.parent / "two.png.bak"
    shutil.move(album / "two.png", moved_away)
    summary = run_scan(library, fake_models(), [album])
    assert summary.missing == 1
    assert photos(library)["two.png"].status == "missing"
    assert faces_by_photo(library)["two.png"] == face_ids  # faces kept

    shutil.move(moved_away, album / "two.png")  # the drive came back
    summary = run_scan(library, fake_models(), [album])
    assert (summary.unchanged, summary.missing) == (3, 0)
    assert photos(library)["two.png"].status == "ok"

    (album / "two.png").unlink()
    run_scan(library, fake_models(), [album])
    with library.session() as session:
        assert purge_missing(session) == (1, 2)
    assert "two.png" not in photos(library)
    with library.reader() as session:
        assert session.scalar(select(func.count(Face.id))) == 1


def test_an_offline_folder_keeps_its_photos(library: Library, album: Path) -> None:
    run_scan(library, fake_models(), [album])
    album.rename(album.parent / "unplugged")
    summary = run_scan(library, fake_models(), [album])
    assert summary.offline_roots == (str(album),)
    assert {p.status for p in photos(library).values()} == {"ok"}


def test_bad_files_are_recorded_with_reasons_and_do_not_stop_the_scan(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "bad"
    face_image(root / "good-1.jpg")
    face_image(root / "good-2.jpg")
    (root / "empty.jpg").write_bytes(b"")
    full = face_image(tmp_path / "full.jpg", size=(1600, 1200))
    (root / "truncated.jpg").write_bytes(full.read_bytes()[:5000])
    (root / "notes.jpg").write_text("not a photo at all\n")
    Image.new("1", (3000, 3000)).save(root / "huge.png")  # 9 MP, over a 5 MP cap
    face_image(root / "locked.jpg")
    with open(os.path.join(os.fsencode(root), b"bad-name-\xff.jpg"), "wb") as handle:
        handle.write((root / "good-1.jpg").read_bytes())

    real_read = scanner_module.read_bytes

    def read(path: str) -> bytes:  # root ignores chmod, so refuse the read here
        if path.endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path)

    monkeypatch.setattr(scanner_module, "read_bytes", read)
    summary = run_scan(library, fake_models(), [root], max_megapixels=5)

    reasons = {os.path.basename(f.path): f.error for f in summary.failures}
    assert set(reasons) == {"empty.jpg", "truncated.jpg", "notes.jpg", "huge.png", "locked.jpg",
                            "bad-name-\\xff.jpg"}
    assert "empty" in reasons["empty.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "megapixel" in reasons["huge.png"]
    assert "permission denied" in reasons["locked.jpg"]
    assert "UTF-8" in reasons["bad-name-\\xff.jpg"]
    assert (summary.new, summary.failed, summary.faces) == (2, 6, 2)
    stored = photos(library)
    assert stored["good-1.jpg"].status == stored["good-2.jpg"].status == "ok"
    for name, reason in reasons.items():
        assert stored[name].status == "failed" and stored[name].error == reason

    # A rescan records them again, once each.
    again = run_scan(library, fake_models(), [root], max_megapixels=5)
    assert again.failed == 6 and len(photos(library)) == 8
    assert again.still_failed == 5  # unchanged since they failed: not read again
    assert {os.path.basename(f.path): f.error for f in again.failures} == reasons


def test_cancel_keeps_what_was_done_and_a_rerun_finishes(library: Library, tmp_path: Path) -> None:
    for i in range(10):
        face_image(tmp_path / "many" / f"{i:02}.jpg", [(50, 50, i * 20)])
    cancel = threading.Event()
    scanner = Scanner(library, lambda: fake_models(), ScanSettings(workers=1), cancel)
    summary = None
    for event in scanner.scan([tmp_path / "many"]):
        if isinstance(event, ScanProgress) and event.done == 3:
            cancel.set()
        if isinstance(event, ScanFinished):
            summary = event.summary
    assert summary is not None and summary.cancelled
    saved = len(photos(library))
    assert 3 <= saved < 10
    rest = run_scan(library, fake_models(), [tmp_path / "many"])
    assert (rest.unchanged, rest.new) == (saved, 10 - saved)
    assert len(photos(library)) == 10
    assert sum(len(v) for v in faces_by_photo(library).values()) == 10


SCAN_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from tests.fakes import fake_models
library = Library({library!r})
models = fake_models(delay=0.15)
for event in Scanner(library, lambda: models, ScanSettings(workers=1, embed_batch=4)).scan([{root!r}]):
    pass
"""


def test_kill_9_mid_scan_loses_at_most_a_batch_and_a_rerun_has_no_duplicates(
        tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for i in range(40):
        face_image(root / f"{i:02}.jpg", [(50, 50, i * 6)])
    path = tmp_path / "library.sqlite"
    script = SCAN_SCRIPT.format(repo=str(REPO), library=str(path), root=str(root))
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        committed = 0
        while time.monotonic() < deadline and committed < 8:
            time.sleep(0.2)
            if path.exists():
                with Library(path) as library, library.reader() as session:
                    committed = session.scalar(select(func.count(Photo.id))) or 0
        assert process.poll() is None, "the scan finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    with Library(path) as library:
        before = len(photos(library))
        assert 8 <= before < 40
        summary = run_scan(library, fake_models(), [root])
        assert summary.unchanged == before and summary.new == 40 - before
        with library.reader() as session:
            assert session.scalar(select(func.count(Photo.id))) == 40
            assert session.scalar(select(func.count(Face.id))) == 40
            per_photo = session.execute(select(Face.photo_id, func.count()).group_by(Face.photo_id))
            assert {count for _, count in per_photo} == {1}
