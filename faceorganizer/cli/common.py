"""Helpers shared by the commands: common options, opening the library, printing JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from faceorganizer.errors import FaceorganizerError
from faceorganizer.paths import absolute, default_library
from faceorganizer.store import Library


class CommandError(FaceorganizerError):
    """A user error to print (without a traceback); exit status 2."""


def add_library_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", metavar="PATH", type=Path,
                        default=os.environ.get("FACEORGANIZER_LIBRARY") or None,
                        help="library file (default: library.sqlite in the user data folder, "
                             "or $FACEORGANIZER_LIBRARY)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def library_path(args: argparse.Namespace) -> Path:
    library = args.library
    return absolute(library) if library else default_library()


def open_library(args: argparse.Namespace, *, create: bool = True) -> Library:
    return Library(library_path(args), create=create)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
