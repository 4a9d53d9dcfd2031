"""The command line on a full disk, a locked library or a network share: one line
``faceorganizer: error: ...``, exit status 2, no traceback, the library sound."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import Pool

from faceorganizer.cli import listing, main
from faceorganizer.store import Library, mounts
from faceorganizer.store.schema import Person
from tests import namespaces
from tests.fakes import face_image

PHOTOS = 40

# The command line loads the real models; scans here use the fakes instead (their embeddings
# in the space of the weights the library records, as the real embedder's would be).
FAKE_LOADER = '''
import types
from tests.fakes import fake_models


def load_models(device="auto", weights=None, **_options):
    models = fake_models()
    if weights is not None:
        models.embedder.model_id = weights.model_id
        models.embedder.space = weights.space
    return models


loader = types.ModuleType("faceorganizer.models.loader")
loader.load_models = load_models
sys.modules["faceorganizer.models.loader"] = loader
'''


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sound(path: Path) -> tuple[str, int]:
    """(integrity_check, number of photos) of the library opened afresh."""
    conn = sqlite3.connect(path)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return check, conn.execute("SELECT count(*) FROM photos").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict = {"sys": types.SimpleNamespace(modules={})}
    exec(FAKE_LOADER, namespace)
    monkeypatch.setitem(sys.modules, "faceorganizer.models.loader", namespace["loader"])


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(PHOTOS):
        face_image(root / f"p{i:02d}.jpg", [(50, 50, (i * 37) % 256)])
    return root


@pytest.fixture
def page_limits() -> Iterator[dict[str, int]]:
    """``limits[str(path)] = pages``: the library at ``path`` cannot grow past ``pages`` pages
    (SQLite's max_page_count), so writing more fails with a real SQLITE_FULL."""
    limits: dict[str, int] = {}

    def limit(dbapi_connection, _record) -> None:
        name = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
        if name in limits:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limits[name]}")

    event.listen(Pool, "connect", limit)
    yield limits
    event.remove(Pool, "connect", limit)


def new_library(path: Path) -> int:
    """A new library at ``path``; its number of pages."""
    Library(path).close()
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


def test_a_scan_that_fills_the_disk_says_so_in_one_line(tmp_path: Path, photos: Path, fake_loader,
                                                        page_limits, capsys) -> None:
    library = tmp_path / "library.sqlite"
    page_limits[str(library)] = new_library(library) + 20
    code, out, err = run(capsys, "scan", str(photos), "--library", str(library), "--json")
    assert code == 2 and out == ""
    assert err.splitlines() == [err.strip()]
    check, kept = sound(library)
    assert check == "ok" and 0 < kept < PHOTOS
    assert err.startswith(f"faceorganizer: error: The library {library} could not be written: the disk "
                          f"is full (database or disk is full). {kept} photos of this scan were saved "
                          "before it stopped, and nothing after; run the scan again and it goes on where "
                          f"it stopped. Free some space on the disk that holds {tmp_path}")

    # with room again, the scan goes on where it stopped
    del page_limits[str(library)]
    code, out, err = run(capsys, "scan", str(photos), "--library", str(library), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["new"], summary["unchanged"]) == (PHOTOS - kept, kept)
    assert sound(library) == ("ok", PHOTOS)


def test_a_scan_that_fills_the_disk_prints_no_traceback(tmp_path: Path, photos: Path, fake_loader,
                                                        page_limits, capsys) -> None:
    library = tmp_path / "library.sqlite"
    page_limits[str(library)] = new_library(library) + 20
    code, _, err = run(capsys, "scan", str(photos), "--library", str(library))
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("faceorganizer: error:")]
    assert len(errors) == 1 and "the disk is full" in errors[0]
    assert "Traceback" not in err
    assert sound(library)[0] == "ok"


@pytest.fixture
def person(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "library.sqlite"
    with Library(path) as library, library.session() as session:
        someone = Person()
        session.add(someone)
        session.flush()
        person_id = someone.id
    return path, person_id


def name_of(path: Path, person_id: int) -> str | None:
    with Library(path) as library, library.reader() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return person.name


def test_a_locked_library_says_how_long_it_waited(person, capsys,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, person_id = person
    monkeypatch.setenv("FACEORGANIZER_LOCK_TIMEOUT", "0.3")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        code, out, err = run(capsys, "name", "--library", str(path), str(person_id), "Ann")
    finally:
        other.rollback()
        other.close()
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"faceorganizer: error: The library {path} is locked by another program: waited 0.3 s for it "
        "(database is locked). Nothing of the step that failed was written; the library keeps "
        "everything up to the last completed step. Close the other program using it (another "
        "faceorganizer window or command?) or wait for it to finish, then try again; "
        "FACEORGANIZER_LOCK_TIMEOUT sets how many seconds to wait."]
    assert name_of(path, person_id) is None
    assert run(capsys, "name", "--library", str(path), str(person_id), "Ann")[0] == 0
    assert name_of(path, person_id) == "Ann"


def test_a_locked_library_from_another_process(person) -> None:
    path, person_id = person
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        done = subprocess.run(
            [sys.executable, "-m", "faceorganizer", "name", "--library", str(path), str(person_id), "Ann"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "FACEORGANIZER_LOCK_TIMEOUT": "0.3"})
    finally:
        other.rollback()
        other.close()
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"faceorganizer: error: The library {path} is locked")
    assert "waited 0.3 s" in lines[0]
    assert name_of(path, person_id) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the Linux mount table")
def test_a_library_on_a_network_share_is_refused(tmp_path: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "library.sqlite"
    Library(path).close()
    before = path.read_bytes()
    monkeypatch.setattr(mounts, "system_mount_table", lambda: (
        f"27 1 254:0 / / rw - ext4 /dev/vda rw\n99 27 0:99 / {os.path.realpath(tmp_path)} rw - "
        "cifs //nas/share rw\n"))
    code, out, err = run(capsys, "photos", "--library", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"faceorganizer: error: The library {path} is on a network share (cifs at ")
    assert "Put the library on a local disk (--library" in err
    assert path.read_bytes() == before


def test_the_last_resort_for_errors_that_escape_a_command(tmp_path: Path, capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error outside a unit of work (here: straight on the engine) is still one line."""
    path = tmp_path / "library.sqlite"
    Library(path).close()
    monkeypatch.setenv("FACEORGANIZER_LOCK_TIMEOUT", "0.2")

    def write_outside_a_session(args) -> int:
        library = Library(args.library)
        try:
            with library.engine.begin() as conn:
                conn.execute(text("DELETE FROM photos"))
        finally:
            library.close()
        return 0

    monkeypatch.setattr(listing, "run_photos", write_outside_a_session)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        code, _, err = run(capsys, "photos", "--library", str(path))
    finally:
        other.rollback()
        other.close()
    assert code == 2
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"faceorganizer: error: The library {path} is locked by another program: "
                          "waited 0.2 s for it (database is locked).")

    def disk_full(args) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "export.json"))

    monkeypatch.setattr(listing, "run_photos", disk_full)
    code, _, err = run(capsys, "photos", "--library", str(path))
    assert code == 2
    assert err == (f"faceorganizer: error: {os.strerror(errno.ENOSPC)}: {tmp_path / 'export.json'}. "
                   "Free some space there, or make it writable, then try again.\n")

    def bug(args) -> int:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(listing, "run_photos", bug)
    with pytest.raises(OSError, match="Bad file descriptor"):  # a bug keeps its traceback
        main(["photos", "--library", str(path)])


def test_a_scan_on_a_really_full_disk(tmp_path: Path, photos: Path) -> None:
    """A genuine ENOSPC: the library on a small tmpfs, scanned from the command line."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = namespaces.run(FAKE_LOADER + '''
import sqlite3
from faceorganizer.cli import main
disk, photos = Path(sys.argv[1]), sys.argv[2]
mount_tmpfs(disk, "320k")
library = disk / "library.sqlite"
code = main(["scan", photos, "--library", str(library), "--json"])
conn = sqlite3.connect(library)
check = conn.execute("PRAGMA integrity_check").fetchone()[0]
kept = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
conn.close()
report(code=code, check=check, kept=kept)
''', str(disk), str(photos))
    got = namespaces.result(done)
    assert got["code"] == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"faceorganizer: error: The library {disk / 'library.sqlite'} could not "
                               "be written: the disk is full")
    assert f"Free some space on the disk that holds {disk} (" in lines[0]
    assert got["check"] == "ok" and 0 < got["kept"] < PHOTOS

