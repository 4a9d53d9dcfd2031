"""Walking folders: photos found once, hidden entries skipped, loops and bad names survived."""

from __future__ import annotations

import os
from pathlib import Path

from faceorganizer.scan.walker import FoundFile, WalkProblem, walk


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def found(root: Path) -> list[str]:
    return [os.path.relpath(i.path, root) for i in walk(str(root)) if isinstance(i, FoundFile)]


def test_finds_photos_recursively_by_extension_in_order(tmp_path: Path) -> None:
    for name in ["b.JPG", "a.png", "sub/c.heic", "sub/deeper/d.webp", "notes.txt", "movie.mp4"]:
        touch(tmp_path / name)
    assert found(tmp_path) == ["a.png", "b.JPG", "sub/c.heic", "sub/deeper/d.webp"]


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "seen.jpg")
    touch(tmp_path / ".hidden.jpg")
    touch(tmp_path / "._seen.jpg")  # macOS resource forks
    touch(tmp_path / ".thumbnails" / "t.jpg")
    assert found(tmp_path) == ["seen.jpg"]


def test_symlink_loops_end_and_linked_files_count_once(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "one.jpg")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a" / "again.jpg").symlink_to(tmp_path / "a" / "one.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    assert found(tmp_path) == ["a/again.jpg"] or found(tmp_path) == ["a/one.jpg"]


def test_a_name_that_is_not_utf8_is_flagged_with_a_printable_path(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
    with open(raw, "wb") as handle:
        handle.write(b"x")
    (item,) = [i for i in walk(str(tmp_path)) if isinstance(i, FoundFile)]
    assert item.path.endswith("caf\\xe9.jpg")
    item.path.encode("utf-8")  # storable and printable
    assert item.name_error is not None and "not valid UTF-8" in item.name_error


def test_an_unreadable_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    touch(tmp_path / "ok.jpg")
    items = list(walk(str(tmp_path / "missing-folder"))) + list(walk(str(tmp_path)))
    problems = [i for i in items if isinstance(i, WalkProblem)]
    assert len(problems) == 1 and "No such file" in problems[0].reason
    assert [i.path for i in items if isinstance(i, FoundFile)] == [str(tmp_path / "ok.jpg")]
