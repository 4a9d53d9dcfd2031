"""Helpers shared by the commands: common options, opening the library, printing JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from faceorganizer.errors import FaceorganizerError
from faceorganizer.paths import default_library
from faceorganizer.store import Library
from faceorganizer.store.address import AddressError, ServerAddress, library_location


class CommandError(FaceorganizerError):
    """A user error to print (without a traceback); exit status 2."""


LIBRARY_HELP = ("library file, or a shared library on a PostgreSQL server as "
                "postgresql://USER@HOST[:PORT]/DATABASE (its password from ~/.pgpass or PGPASSWORD)")


def add_library_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", metavar="PATH|URL",
                        default=os.environ.get("FACEORGANIZER_LIBRARY") or None,
                        help=f"{LIBRARY_HELP} (default: $FACEORGANIZER_LIBRARY, else library.sqlite "
                             "in the user data folder)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def library_target(args: argparse.Namespace) -> Path | ServerAddress:
    """The library ``--library`` (or ``$FACEORGANIZER_LIBRARY``) names: a file made absolute, or
    a checked server address; the default library file where none is named."""
    library = args.library
    if not library:
        return default_library()
    try:
        return library_location(library)
    except AddressError as exc:
        raise CommandError(str(exc)) from None


def open_library(args: argparse.Namespace, *, create: bool = True) -> Library:
    return Library(library_target(args), create=create)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
