"""Where a library is: a file (SQLite) or a PostgreSQL server
(``postgresql://USER@HOST[:PORT]/DB``).

A server address is checked before anything connects: the scheme, the user, the host, the port
and the database name, and the few connection options a household needs. A password is refused
in the address: it would end up in settings, shell history and reports. libpq reads it from the
standard places instead (``~/.pgpass``, ``PGPASSWORD``, ``PGPASSFILE``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from faceorganizer.errors import FaceorganizerError
from faceorganizer.paths import absolute

SCHEMES = ("postgresql", "postgres")
MAX_ADDRESS = 2048
MAX_IDENTIFIER = 63  # PostgreSQL's limit on a user or database name, in bytes
# How long opening waits for a server that does not answer (a NAS asleep, a wrong address).
CONNECT_TIMEOUT = 10
# Options a shared library may need, with the values they allow (None: any short printable text).
OPTIONS: dict[str, tuple[str, ...] | None] = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "sslrootcert": None, "sslcert": None, "sslkey": None,
    "connect_timeout": None,
    "application_name": None,
    "target_session_attrs": ("any", "read-write", "primary"),
}
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$|^[0-9.]+$")


class AddressError(FaceorganizerError):
    """A library address that cannot be used; the message says why and what to write instead."""


@dataclass(frozen=True)
class ServerAddress:
    """A checked PostgreSQL library address, without a password."""

    user: str | None
    host: str | None  # None: the local server's socket
    port: int | None
    database: str
    options: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        """The address as the user writes it (``postgresql://user@host:port/db?...``)."""
        who = f"{quote(self.user, safe='')}@" if self.user else ""
        host = self.host or ""
        port = f":{self.port}" if self.port is not None else ""
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in self.options)
        return f"postgresql://{who}{host}{port}/{quote(self.database, safe='')}" + (
            f"?{query}" if query else "")

    @property
    def server(self) -> str:
        """The server, for messages: ``host:port`` (or the local socket)."""
        host = self.host or "the local server"
        return f"{host}:{self.port}" if self.port is not None else host

    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL (psycopg 3 driver); no password: libpq finds it itself."""
        return str(self).replace("postgresql://", "postgresql+psycopg://", 1)

    def connect_args(self) -> dict[str, object]:
        options = dict(self.options)
        return {"connect_timeout": int(options.get("connect_timeout", CONNECT_TIMEOUT)),
                "application_name": options.get("application_name", "faceorganizer")}


def is_server_address(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names a server (``postgresql://`` or ``postgres://``), not a file."""
    if not isinstance(text, str):
        return False
    head = text.strip()[:16].lower()
    return any(head.startswith(f"{scheme}:") for scheme in SCHEMES) or head.startswith("postgresql+")


def _printable(text: str, what: str) -> str:
    if not text.isprintable():
        raise AddressError(f"The library address has a control character in its {what}.")
    return text


def parse_server_address(text: str) -> ServerAddress:
    """A checked :class:`ServerAddress`; :class:`AddressError` saying what is wrong otherwise."""
    if len(text) > MAX_ADDRESS:
        raise AddressError(f"The library address is {len(text)} characters long; at most "
                           f"{MAX_ADDRESS} are allowed.")
    text = text.strip()
    if not text.isprintable():
        raise AddressError("The library address has a control character in it.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"The library address {text!r} cannot be read ({exc}). Write it as "
                           "postgresql://USER@HOST[:PORT]/DATABASE.") from None
    if parts.scheme.lower() not in SCHEMES:
        raise AddressError(f"The library address {text!r} is not a PostgreSQL one (it starts with "
                           f"{parts.scheme}://); write it as postgresql://USER@HOST[:PORT]/DATABASE.")
    if parts.password is not None:
        raise AddressError(
            "The library address holds a password; it is not taken from there, so that it is never "
            "kept in settings or shown in reports. Remove it from the address and put it in "
            "~/.pgpass (a line host:port:database:user:password, mode 0600) or in PGPASSWORD.")
    if parts.fragment:
        raise AddressError(f"The library address {text!r} has a '#' part, which means nothing here.")
    if port is not None and not 1 <= port <= 65535:
        raise AddressError(f"The port {port} in the library address is not one (1 to 65535).")
    user = unquote(parts.username) if parts.username else None
    host = parts.hostname
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        host = f"[{host}]"
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise AddressError(f"The library address {text!r} names no database: write it as "
                           "postgresql://USER@HOST[:PORT]/DATABASE.")
    for value, what in ((user, "user name"), (database, "database name")):
        if value is not None:
            _printable(value, what)
            if len(value.encode()) > MAX_IDENTIFIER:
                raise AddressError(f"The {what} in the library address is longer than PostgreSQL "
                                   f"allows ({MAX_IDENTIFIER} bytes).")
            if not value:
                raise AddressError(f"The {what} in the library address is empty.")
    if host is not None and not _HOST.match(host):
        raise AddressError(f"{host!r} in the library address is not a host name or address.")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=16)
    except ValueError as exc:
        raise AddressError(f"The options of the library address cannot be read ({exc}).") from None
    options: list[tuple[str, str]] = []
    for key, value in pairs:
        if any(key == seen for seen, _ in options):
            raise AddressError(f"The option {key!r} is given twice in the library address.")
        if key not in OPTIONS:
            allowed = ", ".join(OPTIONS)
            raise AddressError(f"The library address has the option {key!r}, which is not taken "
                               f"(these are: {allowed}).")
        choices = OPTIONS[key]
        _printable(value, f"option {key}")
        if choices is not None and value not in choices:
            raise AddressError(f"The option {key}={value!r} in the library address must be one of "
                               f"{', '.join(choices)}.")
        if key == "connect_timeout" and not (value.isdigit() and 0 < int(value) <= 3600):
            raise AddressError("connect_timeout in the library address must be a number of seconds "
                               "from 1 to 3600.")
        if len(value) > 1024:
            raise AddressError(f"The option {key} in the library address is too long.")
        options.append((key, value))
    return ServerAddress(user, host, port, database, tuple(options))


def library_location(target: str | os.PathLike[str] | ServerAddress) -> Path | ServerAddress:
    """A library's file (made absolute) or its checked server address."""
    if isinstance(target, ServerAddress):
        return target
    if is_server_address(target):
        return parse_server_address(str(target))
    return absolute(target)
