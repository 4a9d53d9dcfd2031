"""Several scans at once on one library (issue 13, item 3), on a file and on a server: they split
the work through claims, never make a second row for a photo or a face, take over the claims of
a scan that was killed, and group the faces once, when the last one finishes."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from faceorganizer.jobs import GroupingFinished, scan_and_group
from faceorganizer.scan.events import ScanFinished, ScanStarted, ScanSummary
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library, scans
from faceorganizer.store.photos import mark_missing
from faceorganizer.store.roots import RootError
from faceorganizer.store.schema import Claim, Face, Photo, Scan
from faceorganizer.store.states import PhotoStatus
from tests.fakes import face_image, fake_models

PHOTOS = 40


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(PHOTOS):
        face_image(root / f"{i // 10}" / f"p{i:02d}.jpg", [(40 + i, 40, (i % 4) * 60)])
    return root


def scan_first_ten(library: Library, folder: Path, tmp_path: Path) -> None:
    """The folder scanned while only its first ten photos were there; the others come after."""
    later = tmp_path / "later"
    later.mkdir()
    for sub in ("1", "2", "3"):
        (folder / sub).rename(later / sub)
    list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))
    for sub in ("1", "2", "3"):
        (later / sub).rename(folder / sub)


def address_of(library: Library) -> str:
    return library.name


def scan_in_thread(address: str, folders: list[Path], results: list, delay: float = 0.02,
                   **options) -> threading.Thread:
    def run() -> None:
        with Library(address) as library:
            events = list(Scanner(library, lambda: fake_models(delay), ScanSettings(workers=1),
                                  **options).scan(folders))
            results.append(events[-1].summary)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def rows(library: Library) -> tuple[list, list]:
    with library.reader() as session:
        photos = sorted(session.execute(select(Photo.path, Photo.status, Photo.size)).all())
        faces = sorted(session.execute(select(Photo.path, Face.x1, Face.y1, Face.x2, Face.y2)
                                       .join(Face, Face.photo_id == Photo.id)).all())
    return photos, faces


def test_two_scans_of_one_folder_split_it_and_make_no_duplicate(library: Library, folder: Path,
                                                                tmp_path: Path) -> None:
    results: list[ScanSummary] = []
    threads = [scan_in_thread(address_of(library), [folder], results) for _ in range(2)]
    for thread in threads:
        thread.join(120)
    assert len(results) == 2
    analysed = [s.new for s in results]
    assert sum(analysed) == PHOTOS and all(n > 0 for n in analysed)  # both worked, no file twice
    assert sorted(s.elsewhere for s in results) == sorted(PHOTOS - n for n in analysed)
    with library.reader() as session:
        paths = session.scalars(select(Photo.path)).all()
        assert len(paths) == len(set(paths)) == PHOTOS
        assert session.scalar(select(func.count()).select_from(Claim)) == 0
        assert session.scalar(select(func.count()).select_from(Scan)) == 0
    alone = Library(tmp_path / "alone.sqlite")
    list(Scanner(alone, lambda: fake_models(), ScanSettings()).scan([folder]))
    assert rows(library) == rows(alone)  # the same library as one scan makes
    alone.close()


def test_overlapping_folders_share_one_root(library: Library, folder: Path) -> None:
    list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder / "0"]))  # a root inside
    results: list[ScanSummary] = []
    with pytest.raises(RootError, match="other scan"), scans.registered(library):  # while another runs
        list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))
    list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))  # alone: taken over
    threads = [scan_in_thread(address_of(library), [folder], results),
               scan_in_thread(address_of(library), [folder / "1", folder / "2"], results)]
    for thread in threads:
        thread.join(120)
    assert len(results) == 2
    with library.reader() as session:
        paths = session.scalars(select(Photo.path)).all()
        assert len(paths) == len(set(paths)) == PHOTOS
        faces = session.execute(select(Face.photo_id, Face.x1)).all()
        assert len(faces) == len(set(faces)) == PHOTOS


def test_the_claims_of_a_killed_scan_lapse(library: Library, folder: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan killed mid-way leaves claims and stops beating: another scan leaves the claimed
    files alone while the claims could be live, then takes them over and analyses them."""
    monkeypatch.setattr(scans, "LAPSE", 2)
    scan_first_ten(library, folder, tmp_path)
    with library.session() as session:
        now = scans.clock(session)
        dead = Scan(machine="killed", pid=1, started=now, heartbeat=now)
        session.add(dead)
        session.flush()
        root_id = session.scalar(select(Photo.root_id))
        session.add_all(Claim(root_id=root_id, rel=f"{i // 10}/p{i:02d}.jpg", scan_id=dead.id)
                        for i in (12, 25, 37))
    summary = list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))[-1].summary
    assert (summary.new, summary.elsewhere) == (PHOTOS - 10, 0)
    with library.reader() as session:
        assert session.scalar(select(func.count()).select_from(Photo)) == PHOTOS
        assert session.scalar(select(func.count()).select_from(Claim)) == 0
        assert session.scalar(select(func.count()).select_from(Scan)) == 0  # the dead one forgotten


def test_files_a_live_scan_holds_are_left_to_it(library: Library, folder: Path, tmp_path: Path) -> None:
    """Another scan (alive: it beats) holds two files; this one does the rest, then waits for
    them, and reads them once their claims are gone."""
    scan_first_ten(library, folder, tmp_path)
    with library.reader() as session:
        root_id = session.scalar(select(Photo.root_id))
    held = [(root_id, "1/p10.jpg"), (root_id, "2/p20.jpg")]
    results: list[ScanSummary] = []
    with scans.registered(library) as other:
        with library.session() as session:
            scans.claim(session, other, held)
        thread = scan_in_thread(address_of(library), [folder], results, delay=0.0)
        threading.Event().wait(2.0)
        assert not results  # waiting for the two held files
        with library.reader() as session:
            done = set(session.scalars(select(Photo.rel)))
        assert "1/p10.jpg" not in done and "2/p20.jpg" not in done and "3/p39.jpg" in done
        with library.session() as session:
            scans.release(session, other, held)
    thread.join(60)
    (summary,) = results
    assert (summary.new, summary.elsewhere) == (PHOTOS - 10, 0)
    with library.reader() as session:
        assert session.scalar(select(func.count()).select_from(Photo)) == PHOTOS


def test_a_photo_found_moved_meanwhile_is_not_marked_missing(library: Library, folder: Path) -> None:
    list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))
    with library.session() as session:
        photo = session.scalars(select(Photo).where(Photo.rel == "0/p00.jpg")).one()
        planned = {photo.id: (photo.root_id, photo.rel)}
        photo.rel = "0/moved.jpg"  # as another scan running at once found it moved
    with library.session() as session:
        assert mark_missing(session, planned) == []
        assert session.get(Photo, photo.id).status == PhotoStatus.OK


def test_faces_are_grouped_once_when_the_last_scan_ends(library: Library, folder: Path) -> None:
    with scans.registered(library):  # another scan running on the library
        events = list(scan_and_group(library, [folder / "0"], lambda: fake_models()))
    grouped = [e.summary for e in events if isinstance(e, GroupingFinished)]
    assert grouped[0].waiting == 1 and grouped[0].people == 0
    events = list(scan_and_group(library, [folder / "1"], lambda: fake_models()))
    (last,) = [e.summary for e in events if isinstance(e, GroupingFinished)]
    assert last.waiting == 0 and last.people > 0
    assert Counter(type(e).__name__ for e in events)["ScanFinished"] == 1
    assert isinstance(next(e for e in events if isinstance(e, ScanFinished)).summary, ScanSummary)


def test_a_scan_killed_on_this_machine_lapses_at_once(library: Library) -> None:
    """Its process is gone, so its claims need not wait for the beats to stop (a rerun after
    kill -9 goes straight on); a scan on another machine is alive while it beats."""
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with library.session() as session:
        now = scans.clock(session)
        here = Scan(machine=scans.current_machine(), pid=gone.pid, started=now, heartbeat=now)
        there = Scan(machine="another-laptop", pid=gone.pid, started=now, heartbeat=now)
        session.add_all([here, there])
        session.flush()
        assert scans.live(session) == {there.id}
        assert scans.lapse(session) == 1
        assert session.scalars(select(Scan.machine)).all() == ["another-laptop"]


def test_a_scan_holds_no_claim_on_files_another_scan_did(library: Library, folder: Path) -> None:
    """Regression: a scan claimed the files it then found done by another, and kept those claims
    until it ended; with four scans at once, each waited for files the others held that way."""
    first = Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder])
    events = []
    for event in first:
        events.append(event)
        if isinstance(event, ScanStarted):  # planned: every file is new to it
            break
    list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([folder]))  # does them all
    for event in first:
        if isinstance(event, ScanFinished):
            with library.reader() as session:  # still registered: its claims would show
                assert session.scalar(select(func.count()).select_from(Claim)) == 0
            assert (event.summary.new, event.summary.elsewhere) == (0, PHOTOS)
    first.close()
