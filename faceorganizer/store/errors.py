"""Errors of the library file a person can act on: a full disk, a read-only or locked library,
a failing disk, a library on a network share. :func:`translate` makes them from SQLite's and
the operating system's errors; each message says what happened, what was kept, what to do."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import OperationalError, StatementError

from faceorganizer.store.address import ServerAddress
from faceorganizer.store.database import LibraryError, lock_timeout_setting
from faceorganizer.store.mounts import network_location

# What a failed write leaves: each unit of work is one transaction, so nothing of it.
KEPT = ("Nothing of the step that failed was written; the library keeps everything up to the last "
        "completed step.")
KEPT_OPENING = "The library has not been changed."
CHOOSE_ANOTHER = "choose another library file (--library, or Settings in the window)"
# Less free space than this next to an I/O error: the disk is (nearly) full.
LOW_SPACE = 8 << 20

# SQLite's primary result codes (the low byte of an extended code) and one extended code.
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 10, 13, 14
SQLITE_READONLY_DBMOVED = SQLITE_READONLY | (4 << 8)

FULL, READ_ONLY, LOCKED, IO, CANT_OPEN, GONE = "full", "read-only", "locked", "io", "cannot open", "gone"
_CODE_KINDS = {SQLITE_FULL: FULL, SQLITE_READONLY: READ_ONLY, SQLITE_PERM: READ_ONLY,
               SQLITE_BUSY: LOCKED, SQLITE_LOCKED: LOCKED, SQLITE_IOERR: IO, SQLITE_CANTOPEN: CANT_OPEN}
# Python < 3.11 gives the message only.
_MESSAGE_KINDS = (("database or disk is full", FULL), ("readonly database", READ_ONLY),
                  ("database is locked", LOCKED), ("database table is locked", LOCKED),
                  ("disk i/o error", IO), ("unable to open database file", CANT_OPEN))
_ERRNO_KINDS = {errno.ENOSPC: FULL, errno.EROFS: READ_ONLY, errno.EACCES: READ_ONLY,
                errno.EPERM: READ_ONLY, errno.EIO: IO}
if hasattr(errno, "EDQUOT"):
    _ERRNO_KINDS[errno.EDQUOT] = FULL
# Disk errors the command line explains in one line even when they are not about the library.
_LAST_RESORT_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})

E = TypeVar("E", bound="LibraryAccessError")


class LibraryAccessError(LibraryError):
    """The library file could not be used. ``happened``, ``kept`` and ``todo`` are the three
    sentences of the message (what happened, what was kept, what to do)."""

    def __init__(self, path: Path | None, happened: str, kept: str, todo: str) -> None:
        self.path, self.happened, self.kept, self.todo = path, happened, kept, todo
        super().__init__(" ".join(part for part in (happened, kept, todo) if part))

    def with_kept(self: E, kept: str) -> E:
        """The same error, saying in other words what was kept (a scan counts its photos)."""
        return type(self)(self.path, self.happened, kept, self.todo)


class LibraryFullError(LibraryAccessError):
    """The disk holding the library (or SQLite's temporary folder) is full, or the quota used up."""


class LibraryReadOnlyError(LibraryAccessError):
    """The library file, its folder or its file system cannot be written."""


class LibraryLockedError(LibraryAccessError):
    """Another program held the library's write lock for longer than the lock timeout."""


class LibraryIOError(LibraryAccessError):
    """The disk failed to read or write, or the library's folder is gone."""


class LibraryOnNetworkError(LibraryAccessError):
    """The library is on a network file system, where SQLite's WAL mode does not work."""


class LibraryUnreachableError(LibraryAccessError):
    """The library's server cannot be reached, refused the user, or has no such database."""


def translate(exc: BaseException, path: Path | None, *, lock_timeout: float | None = None,
              opening: bool = False, server: ServerAddress | None = None) -> LibraryError | None:
    """The :class:`LibraryError` that explains ``exc`` (an SQLAlchemy error wrapping an sqlite3
    or a psycopg one, an sqlite3 error, or an ``OSError``) met while using the library at ``path``
    (or on ``server``), or None if it is none of the errors a person can act on. ``opening``: met
    while opening it."""
    error = exc.orig if isinstance(exc, StatementError) else exc
    if isinstance(exc, LibraryError):
        return None
    if error is not None and (server is not None or type(error).__module__.startswith("psycopg")):
        from faceorganizer.store.server_errors import translate_server

        return translate_server(error, server, lock_timeout=lock_timeout, opening=opening)
    if not isinstance(error, (sqlite3.Error, OSError)):
        return None
    if isinstance(error, OSError):
        if path is not None and error.filename is not None and not _about(error.filename, path):
            return None
        kind = _ERRNO_KINDS.get(error.errno or 0)
        detail = error.strerror or str(error)
    else:
        kind = sqlite_kind(error)
        detail = str(error)
    if kind is None:
        return None
    kept = KEPT_OPENING if opening else KEPT
    where = f" {_show(path)}" if path is not None else ""
    cannot = "cannot be opened" if opening or kind == CANT_OPEN else "cannot be written"
    if opening and path is not None and not path.exists():
        cannot, kept = "cannot be created", "Nothing was written."
    if kind in (IO, CANT_OPEN) and path is not None:
        kind = _refine(kind, path)
    if kind == FULL:
        return _full(path, where, detail, kept, quota=isinstance(error, OSError)
                     and error.errno == getattr(errno, "EDQUOT", None))
    if kind == READ_ONLY:
        happened, todo = _read_only(path, error)
        return LibraryReadOnlyError(path, f"The library{where} {cannot}: {happened} ({detail}).", kept, todo)
    if kind == LOCKED:
        waited = f"waited {lock_timeout:g} s for it" if lock_timeout is not None else "waited for it"
        return LibraryLockedError(
            path, f"The library{where} is locked by another program: {waited} ({detail}).", kept,
            "Close the other program using it (another faceorganizer window or command?) or wait "
            "for it to finish, then try again; FACEORGANIZER_LOCK_TIMEOUT sets how many seconds "
            "to wait.")
    if kind == GONE:
        assert path is not None
        return LibraryIOError(path, f"The library{where} cannot be used: its folder "
                                    f"{_show(path.parent)} is gone ({detail}).", kept,
                              f"Reconnect the disk that holds it, or {CHOOSE_ANOTHER}.")
    verb = "opened" if kind == CANT_OPEN else "read or written"
    return LibraryIOError(path, f"The library{where} could not be {verb} ({detail}).", kept,
                          "Check that the disk holding it is connected, working and not full (nor your "
                          "disk quota used up), then try again.")


def explain(exc: BaseException, path: Path | None) -> str | None:
    """One line for a database or disk error that escaped a command (the command line's last
    resort), or None where it is none of those (a bug, whose traceback is wanted): library
    errors as :func:`translate` says, other full or read-only disks, other SQLite failures."""
    if isinstance(exc, OSError) and exc.errno not in _LAST_RESORT_ERRNOS:
        return None
    try:
        timeout: float | None = lock_timeout_setting()
    except LibraryError:
        timeout = None
    error = translate(exc, path, lock_timeout=timeout)
    if error is not None:
        return str(error)
    if isinstance(exc, OSError):
        where = f": {_show(os.fsdecode(exc.filename))}" if isinstance(exc.filename, (str, bytes)) else ""
        return f"{exc.strerror or exc}{where}. Free some space there, or make it writable, then try again."
    original = exc.orig if isinstance(exc, StatementError) else exc
    if isinstance(exc, OperationalError) or type(original) in (sqlite3.OperationalError,
                                                                sqlite3.DatabaseError):
        name = f" {_show(path)}" if path is not None else ""
        return (f"The library{name} could not be used ({' '.join(str(original).split())}). Nothing of "
                "the step that failed was written.")
    return None


def sqlite_kind(error: sqlite3.Error) -> str | None:
    """Which kind of failure an sqlite3 error is: by its result code (Python 3.11+), else
    by its message."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _CODE_KINDS.get(code & 0xFF)
    message = str(error).lower()
    return next((kind for text, kind in _MESSAGE_KINDS if text in message), None)


def network_error(path: Path) -> LibraryOnNetworkError | None:
    """The error refusing a library at ``path`` (existing or not) on a network file system."""
    location = network_location(path)
    if location is None:
        return None
    return LibraryOnNetworkError(
        path, f"The library {_show(path)} is on a network share ({location}): SQLite warns against "
              "keeping a database on a network file system, and its WAL mode, which faceorganizer "
              "uses, does not work over one at all.",
        "The library was not opened and has not been changed.",
        "Put the library on a local disk (--library, or Settings in the window); the photos can "
        "stay on the share. To share one library between machines, keep it on a PostgreSQL server "
        "(--library postgresql://USER@HOST/DATABASE).")


# ---- what the file system says -----------------------------------------------------------


def _show(path: Path | str) -> str:
    """A path for a one-line message: control characters escaped."""
    text = str(path)
    return text if text.isprintable() else text.encode("unicode_escape", "backslashreplace").decode("ascii")


def _about(filename: object, path: Path) -> bool:
    """Whether an ``OSError`` about ``filename`` concerns the library at ``path``: the file,
    SQLite's files beside it, its folder or a folder above it."""
    if isinstance(filename, int):
        return True
    try:
        name = os.path.abspath(os.fsdecode(filename))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    own = str(path)
    return name in (own, own + "-wal", own + "-shm", own + "-journal") or own.startswith(
        name.rstrip(os.sep) + os.sep)


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _mount_point(folder: Path) -> Path:
    current = Path(os.path.realpath(_existing(folder)))
    while not os.path.ismount(current) and current.parent != current:
        current = current.parent
    return current


def _free(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(_existing(folder)).free
    except OSError:
        return None


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(_existing(folder)).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _refine(kind: str, path: Path) -> str:
    """An I/O error or a file that cannot be opened, explained by what the disk says now."""
    if not path.parent.exists():
        return GONE
    if _read_only_fs(path.parent) or (kind == CANT_OPEN and not os.access(path.parent, os.W_OK)):
        return READ_ONLY
    free = _free(path.parent)
    if free is not None and free < LOW_SPACE:
        return FULL
    return kind


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _full(path: Path | None, where: str, detail: str, kept: str, *, quota: bool) -> LibraryFullError:
    if path is None:
        return LibraryFullError(None, f"The library could not be written: the disk is full ({detail}).",
                                kept, "Free some space on the disk that holds it, then try again.")
    folder = _existing(path.parent)
    free = _free(folder)
    temporary = Path(os.environ.get("SQLITE_TMPDIR") or tempfile.gettempdir())
    temporary_free = _free(temporary)
    if quota:
        return LibraryFullError(path, f"The library{where} could not be written: your disk quota is "
                                      f"used up ({detail}).", kept,
                                f"Free some of your space on the disk that holds {_show(folder)}, or "
                                "ask for a larger quota, then try again.")
    if (free is not None and free >= LOW_SPACE and temporary_free is not None
            and temporary_free < LOW_SPACE):
        return LibraryFullError(path, f"The library{where} could not be written: the temporary "
                                      f"folder {_show(temporary)} is full ({detail}).", kept,
                                "Free some space there (or set SQLITE_TMPDIR to a folder with room), "
                                "then try again.")
    mount = _mount_point(folder)
    facts = [f"mounted at {_show(mount)}"] if mount != Path(os.path.realpath(folder)) else []
    if free is not None:
        facts.append(f"{_size(free)} free now")
    about = f" ({', '.join(facts)})" if facts else ""
    return LibraryFullError(path, f"The library{where} could not be written: the disk is full "
                                  f"({detail}).", kept,
                            f"Free some space on the disk that holds {_show(folder)}{about}, then try again.")


def _read_only(path: Path | None, error: BaseException) -> tuple[str, str]:
    """Why the library cannot be written, and what to do about it."""
    if path is None:
        return "it is read-only", f"Make it writable, or {CHOOSE_ANOTHER}."
    if getattr(error, "sqlite_errorcode", None) == SQLITE_READONLY_DBMOVED:
        return ("its file was moved or deleted while it was open",
                "Open the library where it is now (--library), then try again.")
    folder = _existing(path.parent)
    if _read_only_fs(folder):
        return (f"the file system that holds it (mounted at {_show(_mount_point(folder))}) is read-only",
                f"Mount it read-write, or {CHOOSE_ANOTHER}.")
    if path.exists() and not os.access(path, os.R_OK):
        return ("you may not read the file",
                f"Make the file readable and writable for you, or {CHOOSE_ANOTHER}.")
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only", f"Make the file writable, or {CHOOSE_ANOTHER}."
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"its folder {_show(folder)} is read-only (SQLite keeps two files beside the library "
                "while it is open)", f"Make the folder writable, or {CHOOSE_ANOTHER}.")
    if isinstance(error, OSError):
        return "permission denied", f"Make the library file and its folder writable, or {CHOOSE_ANOTHER}."
    return "it is open read-only", f"Make the library file and its folder writable, or {CHOOSE_ANOTHER}."
