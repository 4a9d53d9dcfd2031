"""Roots mapped per machine (issue 13, item 2): photos are kept relative to their root, so two
machines that find one share at different places share its photos, faces and names; a folder
not mapped on a machine is offline there and nothing of it is marked missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from faceorganizer.cli import main
from faceorganizer.people import operations
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library, read
from faceorganizer.store.roots import RootError, ensure_root, map_root, places
from faceorganizer.store.schema import Face, Photo, RootPath
from faceorganizer.store.states import PhotoStatus
from tests.fakes import face_image, fake_models
from tests.postgres import Server


def scan(library: Library, folders: list[Path], **options) -> object:
    events = list(Scanner(library, lambda: fake_models(), ScanSettings(), **options).scan(folders))
    return events[-1].summary  # type: ignore[attr-defined]


def on(monkeypatch: pytest.MonkeyPatch, machine: str) -> None:
    monkeypatch.setenv("FACEORGANIZER_MACHINE", machine)


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """A share as laptop A mounts it; laptop B mounts a copy of it elsewhere."""
    root = tmp_path / "mnt" / "photos"
    face_image(root / "2019" / "beach.jpg", [(50, 50, 0)])
    face_image(root / "2020" / "party.png", [(20, 30, 100), (200, 100, 200)])
    face_image(root / "portrait.jpg", [(40, 40, 0)])
    return root


def b_mount(share: Path, tmp_path: Path) -> Path:
    other = tmp_path / "Volumes" / "photos"
    shutil.copytree(share, other, copy_function=shutil.copy2)  # same bytes, sizes and mtimes
    return other


def test_photos_are_kept_relative_to_their_root(library: Library, share: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, "laptop-a")
    scan(library, [share])
    with library.reader() as session:
        rows = {(p.rel, p.path) for p in session.scalars(select(Photo))}
        assert rows == {("2019/beach.jpg", str(share / "2019" / "beach.jpg")),
                        ("2020/party.png", str(share / "2020" / "party.png")),
                        ("portrait.jpg", str(share / "portrait.jpg"))}
        assert session.scalars(select(RootPath.machine)).all() == ["laptop-a"]


def test_two_machines_share_one_library_through_their_own_mounts(
        postgres_server: Server, share: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Laptop A scans and names; laptop B, with the share elsewhere, sees the folder offline and
    marks nothing missing; once mapped, B's rescan reads nothing again and keeps every face and
    name; a photo B adds is seen by A at A's own path."""
    address = postgres_server.new_database(vector=False)
    on(monkeypatch, "laptop-a")
    with Library(address) as library:
        scan(library, [share])
        with library.reader() as session:
            face = session.scalars(select(Face.id).order_by(Face.id)).first()
            photo_count = len(session.scalars(select(Photo)).all())
        operations.create_person(library, [face], "Grandma")
    elsewhere = b_mount(share, tmp_path)
    on(monkeypatch, "laptop-b")
    with Library(address) as library:
        with library.reader() as session:
            (folder,) = read.folders(session, shared=True)
            assert (folder.mapped, folder.online, folder.photos) == (False, False, photo_count)
        with pytest.raises(RootError, match="roots map 1"):  # would add every photo twice
            scan(library, [elsewhere])
        with library.session() as session:
            map_root(session, folder.root_id, str(elsewhere), shared=True)
        summary = scan(library, [elsewhere])
        assert (summary.new, summary.unchanged, summary.missing) == (0, photo_count, 0)
        with library.reader() as session:
            paths = {p.path for p in session.scalars(select(Photo))}
            assert paths == {str(elsewhere / "2019" / "beach.jpg"), str(elsewhere / "2020" / "party.png"),
                             str(elsewhere / "portrait.jpg")}
            assert [p.name for p in read.people(session) if p.name] == ["Grandma"]
        face_image(elsewhere / "2021" / "new.jpg", [(60, 60, 0)])
        assert scan(library, [elsewhere]).new == 1
    on(monkeypatch, "laptop-a")
    with Library(address) as library, library.reader() as session:
        assert str(share / "2021" / "new.jpg") in {p.path for p in session.scalars(select(Photo))}
        assert {p.status for p in session.scalars(select(Photo))} == {PhotoStatus.OK}


def test_an_unmapped_folder_can_still_be_added_as_a_new_one(
        postgres_server: Server, share: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = postgres_server.new_database(vector=False)
    on(monkeypatch, "laptop-a")
    with Library(address) as library:
        scan(library, [share])
    own = tmp_path / "b-pictures"
    face_image(own / "cat.jpg", [(40, 40, 50)])
    on(monkeypatch, "laptop-b")
    with Library(address) as library:
        summary = scan(library, [own], new_root=True)
        assert summary.new == 1
        with library.reader() as session:
            mapped = [(p.id, p.path is not None) for p in places(session, shared=True)]
            assert mapped == [(1, False), (2, True)]


def test_a_library_file_keeps_its_folders_on_a_renamed_machine(
        tmp_path: Path, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library file is used by one machine at a time: a folder is where it was added until
    mapped elsewhere, so renaming the computer changes nothing."""
    on(monkeypatch, "old-name")
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, [share])
    on(monkeypatch, "new-name")
    with Library(tmp_path / "library.sqlite") as library:
        summary = scan(library, [share])
        assert (summary.new, summary.missing) == (0, 0)
        with library.reader() as session:
            (folder,) = read.folders(session)
            assert (folder.path, folder.online, folder.mapped) == (str(share), True, True)


def test_a_folder_around_known_folders_takes_their_photos_over(
        library: Library, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, "laptop-a")
    scan(library, [share / "2019"])
    scan(library, [share / "2020"])
    with library.reader() as session:
        ids = {p.path: p.id for p in session.scalars(select(Photo))}
        assert len(places(session, shared=library.shared)) == 2
    summary = scan(library, [share])
    assert (summary.new, summary.missing) == (1, 0)  # only portrait.jpg is new
    with library.reader() as session:
        (place,) = places(session, shared=library.shared)
        assert place.path == str(share)
        photos = {p.path: (p.id, p.rel) for p in session.scalars(select(Photo))}
    for path, photo_id in ids.items():
        assert photos[path][0] == photo_id
    assert photos[str(share / "2019" / "beach.jpg")][1] == "2019/beach.jpg"


def test_mapping_refuses_unknown_or_overlapping_folders(library: Library, share: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, "laptop-a")
    other = tmp_path / "other"
    face_image(other / "x.jpg", [(40, 40, 9)])
    scan(library, [share, other])
    with library.session() as session, pytest.raises(RootError, match="no folder 99"):
        map_root(session, 99, str(tmp_path), shared=library.shared)
    with library.session() as session, pytest.raises(RootError, match="overlaps folder"):
        map_root(session, 2, str(share / "2019"), shared=library.shared)
    with library.session() as session:
        ensure_root(session, str(share / "2020"), shared=library.shared)  # inside: the same root
        assert len(places(session, shared=library.shared)) == 2


def test_the_roots_commands(tmp_path: Path, share: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, "laptop-a")
    library_file = tmp_path / "library.sqlite"
    with Library(library_file) as library:
        scan(library, [share])
    assert main(["roots", "--library", str(library_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"] == "laptop-a"
    (entry,) = report["roots"]
    assert entry == {"id": 1, "path": str(share), "added_path": str(share), "mapped": True, "online": True,
                     "photos": 3, "missing": 0, "machines": {"laptop-a": str(share)}}
    moved = tmp_path / "moved"
    share.rename(moved)
    assert main(["roots", "map", "1", str(moved), "--library", str(library_file), "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert (entry["path"], entry["added_path"], entry["online"]) == (str(moved), str(share), True)
    assert main(["photos", "--library", str(library_file), "--json"]) == 0
    assert all(p["path"].startswith(str(moved)) for p in json.loads(capsys.readouterr().out))
    assert main(["roots", "map", "1", str(tmp_path / "nowhere"), "--library", str(library_file)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["roots", "map", "7", str(moved), "--library", str(library_file)]) == 2
    assert "no folder 7" in capsys.readouterr().err
    assert main(["roots", "--library", str(library_file)]) == 0
    text = capsys.readouterr().out
    assert "This machine: laptop-a" in text and f"added as {share}" in text
