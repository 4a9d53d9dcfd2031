"""Errors of a library on a PostgreSQL server that a person can act on: the server cannot be
reached, refused the user or the password, has no such database, is full or read-only, or
another machine held the write lock too long. Each message says what happened, what was kept
and what to do, like those of a library file (:mod:`faceorganizer.store.errors`)."""

from __future__ import annotations

from faceorganizer.store.address import ServerAddress
from faceorganizer.store.database import LibraryError
from faceorganizer.store.errors import (
    KEPT,
    KEPT_OPENING,
    LibraryAccessError,
    LibraryFullError,
    LibraryLockedError,
    LibraryReadOnlyError,
    LibraryUnreachableError,
)

PASSWORD_HELP = ("Put the password in ~/.pgpass (a line host:port:database:user:password, mode "
                 "0600) or in PGPASSWORD, then try again.")
# SQLSTATE classes and codes (PostgreSQL's appendix A).
_AUTH = ("28000", "28P01")
_NO_DATABASE = "3D000"
_LOCK = ("55P03", "40P01")  # lock_not_available, deadlock_detected
_FULL = ("53100", "53200")  # disk_full, out_of_memory
_READ_ONLY = ("25006",)  # read_only_sql_transaction (a standby, or default_transaction_read_only)
_PRIVILEGE = "42501"
_TOO_MANY = "53300"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def translate_server(error: BaseException, server: ServerAddress | None, *,
                     lock_timeout: float | None, opening: bool) -> LibraryError | None:
    """The :class:`LibraryError` explaining a psycopg error met on ``server``, or None where it
    is not one a person can act on (a bug, whose traceback is wanted)."""
    import psycopg

    if not isinstance(error, psycopg.Error):
        return None
    where = f" {server}" if server is not None else ""
    at = server.server if server is not None else "the server"
    kept = KEPT_OPENING if opening else KEPT
    code = getattr(error, "sqlstate", None) or ""
    detail = _one_line(error)
    make: type[LibraryAccessError]
    if code in _AUTH or "password authentication failed" in detail or "no password supplied" in detail:
        who = f"the user {server.user}" if server is not None and server.user else "your user"
        return LibraryUnreachableError(None, f"The library server {at} refused {who} ({detail}).",
                                       kept, PASSWORD_HELP)
    if code == _NO_DATABASE or ("database" in detail and "does not exist" in detail):
        name = server.database if server is not None else "the database"
        return LibraryUnreachableError(
            None, f"The library server {at} has no database {name} ({detail}).", kept,
            f"Create it first (createdb {name}, or CREATE DATABASE), or check the address.")
    if code in _LOCK:
        waited = f"waited {lock_timeout:g} s for it" if lock_timeout is not None else "waited for it"
        return LibraryLockedError(
            None, f"The library{where} is locked by another program: {waited} ({detail}).", kept,
            "Another machine or program is writing to it; wait for it to finish, then try again. "
            "FACEORGANIZER_LOCK_TIMEOUT sets how many seconds to wait.")
    if code in _FULL:
        make = LibraryFullError
        return make(None, f"The library server {at} could not write ({detail}).", kept,
                    "Free some space on the server's disk, then try again.")
    if code in _READ_ONLY or code == _PRIVILEGE:
        why = "it is read-only" if code in _READ_ONLY else "your user may not change it"
        return LibraryReadOnlyError(None, f"The library{where} cannot be written: {why} ({detail}).",
                                    kept, "Connect to the server's primary with a user that owns the "
                                          "library's tables, or choose another library.")
    if code == _TOO_MANY:
        return LibraryUnreachableError(None, f"The library server {at} has no free connection "
                                             f"({detail}).", kept,
                                       "Close other programs using it, or raise max_connections.")
    if isinstance(error, psycopg.OperationalError) and (not code or code.startswith(("08", "57P"))):
        return LibraryUnreachableError(
            None, f"The library server {at} cannot be reached ({detail}).", kept,
            "Check that the server is running and reachable from this machine (address, port, "
            "firewall, VPN), then try again.")
    return None
