"""Errors a person can act on: a full disk, a read-only, locked or network library, each said
in one line with what was kept; the library stays sound and keeps what was committed."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from faceorganizer.store import Library, LibraryError, mounts
from faceorganizer.store import errors as library_errors
from faceorganizer.store.errors import (
    LibraryFullError,
    LibraryIOError,
    LibraryLockedError,
    LibraryOnNetworkError,
    LibraryReadOnlyError,
    translate,
)
from faceorganizer.store.schema import Photo
from tests import namespaces

KEPT = "Nothing of the step that failed was written; the library keeps everything up to the last"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_photos(library: Library, batch: int, count: int = 20) -> None:
    with library.session() as session:
        session.add_all(Photo(rel=f"/photos/{batch}/{i:03d}-{'x' * 200}.jpg", size=1, mtime_ns=1,
                              status="ok") for i in range(count))


def photo_count(library: Library) -> int:
    with library.reader() as session:
        return session.scalar(select(func.count()).select_from(Photo)) or 0


def reopened(path: Path) -> tuple[str, int]:
    """(integrity_check, number of photos) of the library opened afresh."""
    with Library(path) as library, library.reader() as session:
        check = session.execute(text("PRAGMA integrity_check")).scalar_one()
        return check, session.scalar(select(func.count()).select_from(Photo)) or 0


def limit_pages(library: Library, extra: int) -> None:
    """From now on the library can grow by ``extra`` pages only: SQLite then fails with a
    real SQLITE_FULL ("database or disk is full"), as on a full disk."""
    library.engine.dispose()

    @event.listens_for(library.engine, "connect")
    def _small(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + extra}")


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message and message.strip() == message
    return message


# ---- a full disk ------------------------------------------------------------------------


def test_a_full_disk_keeps_what_was_committed(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    library = Library(path)
    limit_pages(library, 12)
    committed = 0
    with pytest.raises(LibraryFullError) as caught:
        for batch in range(1000):
            add_photos(library, batch)
            committed += 1
    assert committed >= 1
    message = one_line(caught.value)
    assert message.startswith(f"The library {path} could not be written: the disk is full "
                              "(database or disk is full).")
    assert KEPT in message and f"Free some space on the disk that holds {tmp_path}" in message
    assert isinstance(caught.value.__cause__, OperationalError)
    assert isinstance(caught.value, LibraryError)
    assert photo_count(library) == committed * 20  # the library is still usable
    library.close()
    assert reopened(path) == ("ok", committed * 20)


def test_a_failed_opening_on_a_full_disk_is_explained(tmp_path: Path) -> None:
    """SQLITE_FULL while a new library is made (the schema does not fit)."""
    path = tmp_path / "library.sqlite"
    sqlite3.connect(path).close()  # an empty file: a new library is made in it

    from sqlalchemy.pool import Pool

    def tiny(dbapi_connection, _record) -> None:
        if dbapi_connection.execute("PRAGMA database_list").fetchone()[2] == str(path):
            dbapi_connection.execute("PRAGMA max_page_count = 2")

    event.listen(Pool, "connect", tiny)
    try:
        with pytest.raises(LibraryFullError, match="The library has not been changed"):
            Library(path)
    finally:
        event.remove(Pool, "connect", tiny)
    assert reopened(path) == ("ok", 0)


# ---- read-only --------------------------------------------------------------------------


def test_a_read_only_library_says_so_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    library = Library(path)
    add_photos(library, 0)
    library.engine.dispose()

    @event.listens_for(library.engine, "connect")
    def _read_only(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    with pytest.raises(LibraryReadOnlyError) as caught:
        add_photos(library, 1)
    message = one_line(caught.value)
    assert message.startswith(f"The library {path} cannot be written: it is open read-only "
                              "(attempt to write a readonly database).")
    assert KEPT in message and "choose another library file (--library" in message
    assert photo_count(library) == 20
    library.close()
    assert reopened(path) == ("ok", 20)


def test_a_library_moved_while_open_says_so(tmp_path: Path) -> None:
    """SQLITE_READONLY_DBMOVED: SQLite noticed that the open file was moved or deleted."""
    error = translate(sqlite_error("attempt to write a readonly database", 8 | (4 << 8)),
                      tmp_path / "library.sqlite")
    assert isinstance(error, LibraryReadOnlyError)
    assert "its file was moved or deleted while it was open" in one_line(error)


# ---- locked -----------------------------------------------------------------------------


def test_a_locked_library_waits_the_lock_timeout_then_says_so(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    library = Library(path, lock_timeout=0.3)
    add_photos(library, 0)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM photos")
        started = time.monotonic()
        with pytest.raises(LibraryLockedError) as caught:
            add_photos(library, 1)
        waited = time.monotonic() - started
        assert photo_count(library) == 20  # readers do not wait for the writer
    finally:
        other.rollback()
        other.close()
    assert 0.25 <= waited < 5
    message = one_line(caught.value)
    assert message.startswith(f"The library {path} is locked by another program: waited 0.3 s for it "
                              "(database is locked).")
    assert KEPT in message and "Close the other program" in message
    assert "FACEORGANIZER_LOCK_TIMEOUT" in message
    add_photos(library, 2)  # once the other program is done, work goes on
    library.close()
    assert reopened(path) == ("ok", 40)


def test_the_lock_timeout_comes_from_the_environment(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEORGANIZER_LOCK_TIMEOUT", "0.25")
    with Library(tmp_path / "a.sqlite") as library:
        assert library.lock_timeout == 0.25
        with library.engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 250
    with Library(tmp_path / "a.sqlite", lock_timeout=2) as library:
        assert library.lock_timeout == 2.0
    monkeypatch.delenv("FACEORGANIZER_LOCK_TIMEOUT")
    with Library(tmp_path / "a.sqlite") as library:
        assert library.lock_timeout == 10.0
    monkeypatch.setenv("FACEORGANIZER_LOCK_TIMEOUT", "soon")
    with pytest.raises(LibraryError, match="FACEORGANIZER_LOCK_TIMEOUT must be a number of seconds"):
        Library(tmp_path / "a.sqlite")
    with pytest.raises(LibraryError, match="0 or more"):
        Library(tmp_path / "a.sqlite", lock_timeout=-1)


# ---- a network share --------------------------------------------------------------------

MOUNTINFO = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 27 254:1 / /home rw,relatime shared:1 - ext4 /dev/vdb rw
31 27 0:40 / /mnt/nas rw,relatime shared:2 master:1 - nfs4 nas:/export rw,vers=4.2
32 31 254:2 / /mnt/nas/cache rw,relatime - ext4 /dev/vdc rw
33 27 0:41 / /mnt/my\040share rw,relatime - cifs //nas/My\040Share rw
34 27 0:40 /export/photos /srv/photos rw,relatime - nfs nas:/export/photos rw
35 27 254:1 /ann/pictures /srv/local rw,relatime - ext4 /dev/vdb rw
36 27 254:3 / /data rw - ext4 /dev/vdd rw
37 36 0:42 / /data rw - fuse.sshfs ann@host:/data rw
38 27 0:43 / /mnt/back\134slash\011tab rw - davfs http://dav/ rw
39 27 0:44 / /mnt/dav rw - fuse.davfs2 http://dav/ rw

garbage
1 2 3:4 / /nodash rw shared:1 nfs src rw
12 1 0:5 / relative rw - nfs host:/x rw
40 27 0:45 / /mnt/truncated rw -
41 27 0:46 / /mnt/9p rw - 9p drvfs rw
"""

PROC_MOUNTS = r"""/dev/vda / ext4 rw,relatime 0 0
nas:/export /mnt/nas nfs4 rw,vers=4.2 0 0
/dev/vdc /mnt/nas/cache ext4 rw 0 0
//nas/My\040Share /mnt/my\040share smb3 rw 0 0
half-a-line
"""

MACOS_MOUNT = """/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)
map auto_home on /System/Volumes/Data/home (autofs, automounted, nobrowse)
//ann@nas._smb._tcp.local/Photos on /Volumes/Photos (smbfs, nodev, nosuid, mounted by ann)
nas:/export on /Volumes/export with spaces (nfs, asynchronous)
not a mount line
"""


def located(path: str, table: str = MOUNTINFO) -> tuple[str, str] | None:
    mount = mounts.mount_of(path, mounts.parse_mount_table(table))
    return (mount.point, mount.fstype) if mount else None


@pytest.mark.parametrize(("path", "expected"), [
    ("/home/ann/library.sqlite", ("/home", "ext4")),
    ("/mnt/nas/photos/library.sqlite", ("/mnt/nas", "nfs4")),
    ("/mnt/nas", ("/mnt/nas", "nfs4")),
    ("/mnt/nas/cache/library.sqlite", ("/mnt/nas/cache", "ext4")),  # local, inside the share
    ("/mnt/nasty/library.sqlite", ("/", "ext4")),  # whole path components only
    ("/mnt/my share/library.sqlite", ("/mnt/my share", "cifs")),
    ("/srv/photos/library.sqlite", ("/srv/photos", "nfs")),  # a bind mount of a share
    ("/srv/local/library.sqlite", ("/srv/local", "ext4")),  # a bind mount of a local disk
    ("/data/library.sqlite", ("/data", "fuse.sshfs")),  # mounted over: the last one counts
    ("/mnt/back\\slash\ttab/x", ("/mnt/back\\slash\ttab", "davfs")),
    ("/mnt/9p/x", ("/mnt/9p", "9p")),
    ("/nodash/x", ("/", "ext4")),
    ("/mnt/truncated/x", ("/", "ext4")),
])
def test_the_mount_table_says_where_a_path_is(path: str, expected: tuple[str, str]) -> None:
    assert located(path) == expected


def test_malformed_mount_tables_are_read_as_far_as_they_go() -> None:
    table = mounts.parse_mount_table(MOUNTINFO)
    assert all(m.point.startswith("/") for m in table)
    assert "relative" not in {m.point for m in table}
    assert mounts.parse_mount_table("") == []
    assert mounts.parse_mount_table("\x00\x01 \\999 - -\n- - -\n1 2 3:4\n") == []
    assert located("/anything", "") is None
    assert located("/mnt/nas/x", PROC_MOUNTS) == ("/mnt/nas", "nfs4")
    assert located("/mnt/nas/cache/x", PROC_MOUNTS) == ("/mnt/nas/cache", "ext4")
    assert located("/mnt/my share/x", PROC_MOUNTS) == ("/mnt/my share", "smb3")
    assert mounts.unescape(r"a\040b\134c\999") == "a b\\c\\999"


def test_macos_mount_output_is_read() -> None:
    table = mounts.parse_bsd_mount(MACOS_MOUNT)
    assert [(m.point, m.fstype) for m in table] == [
        ("/", "apfs"), ("/System/Volumes/Data/home", "autofs"), ("/Volumes/Photos", "smbfs"),
        ("/Volumes/export with spaces", "nfs")]
    mount = mounts.mount_of("/Volumes/Photos/library.sqlite", table)
    assert mount is not None and mount.is_network


@pytest.mark.parametrize(("fstype", "network"), [
    ("nfs", True), ("NFS4", True), ("cifs", True), ("smb3", True), ("smbfs", True), ("9p", True),
    ("fuse.sshfs", True), ("fuse.davfs2", True), ("davfs", True), ("ceph", True), ("afs", True),
    ("glusterfs", True), ("fuse.rclone", True),
    ("ext4", False), ("btrfs", False), ("tmpfs", False), ("overlay", False), ("fuse", False),
    ("fuse.portal", False), ("fuseblk", False), ("", False),
])
def test_network_file_system_types(fstype: str, network: bool) -> None:
    assert mounts.is_network_type(fstype) is network


def share(folder: Path, fstype: str = "nfs4") -> str:
    """A mount table (mountinfo) with ``folder`` on a network share."""
    point = os.path.realpath(folder).replace("\\", "\\134").replace(" ", "\\040")
    return MOUNTINFO + f"99 27 0:99 / {point} rw,relatime - {fstype} nas:/export rw\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the Linux mount table")
def test_a_library_on_a_network_share_is_refused_untouched(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "on the share"
    path = folder / "library.sqlite"
    with Library(path) as library:
        add_photos(library, 0)
    before = digest(path)
    monkeypatch.setattr(mounts, "system_mount_table", lambda: share(folder))
    with pytest.raises(LibraryOnNetworkError) as caught:
        Library(path)
    message = one_line(caught.value)
    assert message.startswith(f"The library {path} is on a network share "
                              f"(nfs4 at {os.path.realpath(folder)}): SQLite warns against")
    assert "WAL" in message and "does not work over one" in message
    assert "The library was not opened and has not been changed." in message
    assert "on a local disk (--library" in message
    assert "photos can stay on the share" in message and "PostgreSQL" in message
    assert digest(path) == before
    assert sorted(p.name for p in folder.iterdir()) == ["library.sqlite"]
    with pytest.raises(LibraryOnNetworkError):  # a new one is not made there either
        Library(folder / "new" / "library.sqlite")
    assert not (folder / "new").exists()
    monkeypatch.setattr(mounts, "system_mount_table", lambda: share(folder, "ext4"))
    with Library(path) as library:
        assert photo_count(library) == 20


def test_the_real_mount_table_says_the_test_folder_is_local(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the Linux mount table")
    if mounts.network_location(tmp_path) is not None:
        pytest.skip(f"the temporary folder is on a network share ({mounts.network_location(tmp_path)})")
    assert mounts.system_mount_table()


# ---- translate, kind by kind ------------------------------------------------------------


def sqlite_error(message: str, code: int | None = None) -> sqlite3.Error:
    """An sqlite3 error as Python 3.10 makes it (message only), or with a result code (3.11+)."""
    error = sqlite3.OperationalError(message)
    if code is not None:
        error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(("message", "kind"), [
    ("database or disk is full", LibraryFullError),
    ("attempt to write a readonly database", LibraryReadOnlyError),
    ("database is locked", LibraryLockedError),
    ("database table is locked", LibraryLockedError),
    ("disk I/O error", LibraryIOError),
    ("unable to open database file", LibraryIOError),
])
def test_translate_by_message_alone(tmp_path: Path, message: str, kind: type) -> None:
    path = tmp_path / "library.sqlite"
    for error in (sqlite_error(message), OperationalError("SELECT 1", {}, sqlite_error(message))):
        translated = translate(error, path, lock_timeout=1.5)
        assert type(translated) is kind
        assert translated is not None and str(path) in one_line(translated)
    assert translate(sqlite_error("UNIQUE constraint failed: photos.path"), path) is None


@pytest.mark.parametrize(("code", "kind"), [
    (13, LibraryFullError), (8, LibraryReadOnlyError), (3, LibraryReadOnlyError),
    (5, LibraryLockedError), (5 | (2 << 8), LibraryLockedError), (6, LibraryLockedError),
    (10, LibraryIOError), (10 | (3 << 8), LibraryIOError), (14, LibraryIOError),
])
def test_translate_by_result_code(tmp_path: Path, code: int, kind: type) -> None:
    translated = translate(sqlite_error("whatever the message says", code), tmp_path / "l.sqlite")
    assert type(translated) is kind
    assert translate(sqlite_error("database is locked", 19), tmp_path / "l.sqlite") is None  # code wins


def test_translate_real_sqlite_errors(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("CREATE TABLE t (x)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.Error) as full:
            conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
        assert isinstance(translate(full.value, path), LibraryFullError)
        conn.execute("PRAGMA query_only = ON")
        with pytest.raises(sqlite3.Error) as read_only:
            conn.execute("INSERT INTO t VALUES (1)")
        assert isinstance(translate(read_only.value, path), LibraryReadOnlyError)
        conn.execute("PRAGMA query_only = OFF")
        conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.Error) as busy:
            other.execute("BEGIN IMMEDIATE")
        locked = translate(busy.value, path, lock_timeout=0)
        assert isinstance(locked, LibraryLockedError) and "waited 0 s" in str(locked)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
        other.close()
    gone = tmp_path / "unplugged" / "library.sqlite"
    with pytest.raises(sqlite3.Error) as cannot_open:
        sqlite3.connect(gone).execute("SELECT 1")
    translated = translate(cannot_open.value, gone)
    assert isinstance(translated, LibraryIOError)
    assert f"its folder {gone.parent} is gone" in str(translated)


@pytest.mark.parametrize(("number", "kind", "words"), [
    (errno.ENOSPC, LibraryFullError, "the disk is full"),
    (errno.EDQUOT, LibraryFullError, "your disk quota is used up"),
    (errno.EROFS, LibraryReadOnlyError, "cannot be written"),
    (errno.EACCES, LibraryReadOnlyError, "cannot be written"),
    (errno.EPERM, LibraryReadOnlyError, "cannot be written"),
])
def test_translate_os_errors(tmp_path: Path, number: int, kind: type, words: str) -> None:
    path = tmp_path / "library.sqlite"
    for filename in (None, str(path), str(path) + "-wal", str(tmp_path)):
        translated = translate(OSError(number, os.strerror(number), filename), path)
        assert type(translated) is kind and words in one_line(translated)
        assert KEPT in str(translated)
    opening = translate(OSError(number, os.strerror(number)), path, opening=True)
    assert opening is not None and "Nothing was written." in str(opening)
    # about another file (a photo, a weights file): not the library's business
    assert translate(OSError(number, os.strerror(number), str(tmp_path / "photo.jpg")), path) is None


def test_translate_leaves_other_errors_alone(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    assert translate(RuntimeError("database is locked"), path) is None
    assert translate(OSError(errno.ENOENT, "No such file or directory"), path) is None
    assert translate(LibraryError("database is locked"), path) is None
    integrity = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert translate(integrity, path) is None
    without_path = translate(sqlite_error("database or disk is full"), None)
    assert isinstance(without_path, LibraryFullError) and one_line(without_path).startswith(
        "The library could not be written")


def test_with_kept_rewords_what_was_kept(tmp_path: Path) -> None:
    error = translate(sqlite_error("database or disk is full", 13), tmp_path / "l.sqlite")
    assert isinstance(error, LibraryFullError)
    scan = error.with_kept("12 photos of this scan were saved; run the scan again and it goes on "
                           "where it stopped.")
    assert type(scan) is LibraryFullError and scan.path == error.path
    assert str(scan) == f"{error.happened} 12 photos of this scan were saved; run the scan again and " \
                        f"it goes on where it stopped. {error.todo}"


def test_explain_is_the_command_lines_last_resort(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    locked = OperationalError("BEGIN IMMEDIATE", {}, sqlite_error("database is locked", 5))
    assert library_errors.explain(locked, path) == str(translate(locked, path, lock_timeout=10))
    odd = OperationalError("SELECT", {}, sqlite_error("no such table: photos", 1))
    assert library_errors.explain(odd, path) == (
        f"The library {path} could not be used (no such table: photos). Nothing of the step that "
        "failed was written.")
    elsewhere = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "model.pt"))
    assert library_errors.explain(elsewhere, path) == (
        f"No space left on device: {tmp_path / 'model.pt'}. Free some space there, or make it "
        "writable, then try again.")
    assert library_errors.explain(OSError(errno.ENOENT, "gone"), path) is None
    assert library_errors.explain(IntegrityError("INSERT", {}, sqlite3.IntegrityError("x")), path) is None


def test_control_characters_in_a_path_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.sqlite"
    error = translate(sqlite_error("database is locked"), path, lock_timeout=1)
    assert error is not None and "two\\nlines.sqlite" in one_line(error)


# ---- real file systems: a full tmpfs, a read-only mount, file permissions ----------------


def test_a_really_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    done = namespaces.run('''
from sqlalchemy import func, select, text
from faceorganizer.store import Library, LibraryError
from faceorganizer.store.schema import Photo
disk = Path(sys.argv[1])
mount_tmpfs(disk, "256k")
path = disk / "library.sqlite"
library = Library(path)
committed, error = 0, None
try:
    for batch in range(1000):
        with library.session() as session:
            session.add_all(Photo(rel=f"/photos/{batch}/{i:03d}-{'x' * 200}.jpg", size=1, mtime_ns=1,
                                  status="ok") for i in range(20))
        committed += 1
except LibraryError as exc:
    error = exc
with library.reader() as session:
    usable = session.scalar(select(func.count()).select_from(Photo))
library.close()
with Library(path) as again, again.reader() as session:
    check = session.execute(text("PRAGMA integrity_check")).scalar_one()
    count = session.scalar(select(func.count()).select_from(Photo))
report(kind=type(error).__name__, message=str(error), cause=type(error.__cause__).__name__,
       committed=committed, usable=usable, check=check, count=count)
''', str(disk))
    got = namespaces.result(done)
    assert done.returncode == 0, done.stderr
    assert got["kind"] == "LibraryFullError" and got["cause"] == "OperationalError"
    assert got["committed"] >= 1
    assert got["message"].startswith(f"The library {disk / 'library.sqlite'} could not be written: "
                                      "the disk is full (database or disk is full).")
    assert KEPT in got["message"]
    assert f"Free some space on the disk that holds {disk} (" in got["message"]
    assert "free now), then try again." in got["message"]
    assert (got["usable"], got["check"], got["count"]) == (got["committed"] * 20, "ok",
                                                           got["committed"] * 20)


def test_a_read_only_file_system(tmp_path: Path) -> None:
    disk, view = tmp_path / "disk", tmp_path / "view"
    disk.mkdir()
    view.mkdir()
    done = namespaces.run('''
import hashlib
from faceorganizer.store import Library, LibraryError
from faceorganizer.store.schema import Photo
disk, view = Path(sys.argv[1]), Path(sys.argv[2])
mount_tmpfs(disk, "4m")


def add(library, name):
    with library.session() as session:
        session.add(Photo(rel=name, size=1, mtime_ns=1, status="ok"))


with Library(disk / "closed.sqlite") as library:
    add(library, "/a.jpg")
with Library(disk / "open.sqlite") as library:
    add(library, "/a.jpg")
keep = Library(disk / "open.sqlite")  # keeps its -wal and -shm files there
with keep.reader() as session:
    session.query(Photo).count()
read_only_view(disk, view)


def digests():
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in disk.iterdir()
            if not p.name.endswith("-shm")}  # readers keep their marks in the -shm file


before = digests()
out = {}
for name in ("closed.sqlite", "new.sqlite", "sub/new.sqlite"):
    try:
        Library(view / name).close()
        out[name] = "opened"
    except LibraryError as exc:
        out[name] = [type(exc).__name__, str(exc)]
library = Library(view / "open.sqlite")
with library.reader() as session:
    out["read"] = session.query(Photo).count()
try:
    add(library, "/b.jpg")
except LibraryError as exc:
    out["write"] = [type(exc).__name__, str(exc)]
library.close()
out["unchanged"] = digests() == before
out["files"] = sorted(p.name for p in disk.iterdir())
keep.close()
report(**out)
''', str(disk), str(view))
    got = namespaces.result(done)
    assert done.returncode == 0, done.stderr
    mount = f"(mounted at {view})"
    kind, message = got["closed.sqlite"]
    assert kind == "LibraryReadOnlyError"
    assert message == (f"The library {view / 'closed.sqlite'} cannot be opened: the file system that "
                       f"holds it {mount} is read-only (unable to open database file). The library "
                       "has not been changed. Mount it read-write, or choose another library file "
                       "(--library, or Settings in the window).")
    for name in ("new.sqlite", "sub/new.sqlite"):
        kind, message = got[name]
        assert kind == "LibraryReadOnlyError"
        assert message.startswith(f"The library {view / name} cannot be created: the file system "
                                  f"that holds it {mount} is read-only (")
        assert "Nothing was written." in message
    assert got["read"] == 1  # with its -wal and -shm files there, a read-only library can be read
    kind, message = got["write"]
    assert kind == "LibraryReadOnlyError"
    assert message.startswith(f"The library {view / 'open.sqlite'} cannot be written: the file "
                              f"system that holds it {mount} is read-only (attempt to write a "
                              "readonly database).")
    assert KEPT in message
    assert got["unchanged"] and "new.sqlite" not in got["files"] and "sub" not in got["files"]


def test_a_file_or_folder_the_user_cannot_write(tmp_path: Path) -> None:
    """As a user without privileges (chmod does not stop root): a read-only library file, and
    a closed library in a read-only folder (SQLite cannot make its -wal and -shm files)."""
    locked_file = tmp_path / "file" / "library.sqlite"
    locked_folder = tmp_path / "folder" / "library.sqlite"
    unreadable = tmp_path / "secret" / "library.sqlite"
    for path in (locked_file, locked_folder, unreadable):
        with Library(path) as library:
            add_photos(library, 0)
    before = {p: digest(p) for p in (locked_file, locked_folder, unreadable)}
    locked_file.chmod(0o444)
    locked_folder.parent.chmod(0o555)
    unreadable.chmod(0o000)
    try:
        done = namespaces.run('''
from faceorganizer.store import Library, LibraryError
from faceorganizer.store.schema import Photo
out = {}
library = Library(sys.argv[1])
with library.reader() as session:
    out["read"] = session.query(Photo).count()
try:
    with library.session() as session:
        session.add(Photo(rel="/b.jpg", size=1, mtime_ns=1, status="ok"))
except LibraryError as exc:
    out["file"] = [type(exc).__name__, str(exc)]
library.close()
try:
    Library(sys.argv[2]).close()
except LibraryError as exc:
    out["folder"] = [type(exc).__name__, str(exc)]
try:
    Library(sys.argv[3]).close()
except LibraryError as exc:
    out["unreadable"] = [type(exc).__name__, str(exc)]
report(**out)
''', str(locked_file), str(locked_folder), str(unreadable), root=False)
    finally:
        locked_file.chmod(0o644)
        locked_folder.parent.chmod(0o755)
        unreadable.chmod(0o644)
    got = namespaces.result(done)
    assert done.returncode == 0, done.stderr
    assert got["read"] == 20
    kind, message = got["file"]
    assert kind == "LibraryReadOnlyError"
    assert message.startswith(f"The library {locked_file} cannot be written: the file is read-only "
                              "(attempt to write a readonly database).")
    assert KEPT in message and "Make the file writable, or choose another library file" in message
    kind, message = got["folder"]
    assert kind == "LibraryReadOnlyError"
    assert message.startswith(f"The library {locked_folder} cannot be opened: its folder "
                              f"{locked_folder.parent} is read-only")
    assert "Make the folder writable" in message
    kind, message = got["unreadable"]
    assert kind == "LibraryReadOnlyError"
    assert message == (f"The library {unreadable} cannot be opened: you may not read the file "
                       "(Permission denied). The library has not been changed. "
                       "Make the file readable and writable for you, or choose another library file "
                       "(--library, or Settings in the window).")
    for path, value in before.items():
        assert digest(path) == value
        assert reopened(path) == ("ok", 20)
