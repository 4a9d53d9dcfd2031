"""The ``faceorganizer`` command line. Commands and their JSON fields are a contract."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from faceorganizer import __version__
from faceorganizer.cli import doctor, evaluate, listing, maintenance, people, scan, search
from faceorganizer.errors import FaceorganizerError

COMMANDS = (scan, listing, people, search, evaluate, maintenance, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faceorganizer",
        description="Find, group and search the faces in your photos (FaceNet).")
    parser.add_argument("--version", action="version", version=f"faceorganizer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except FaceorganizerError as exc:
        print(f"faceorganizer: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `faceorganizer photos | head`
        sys.stderr.close()
        return 0
