"""The ``faceorganizer`` command line. Commands and their JSON fields are a contract."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy.exc

from faceorganizer import __version__
from faceorganizer.cli import (
    doctor,
    evaluate,
    listing,
    maintenance,
    people,
    questions,
    roots,
    scan,
    search,
    tags,
    train,
)
from faceorganizer.cli.common import LIBRARY_HELP, library_target
from faceorganizer.errors import FaceorganizerError

COMMANDS = (scan, listing, roots, people, questions, search, tags, evaluate, train, maintenance, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faceorganizer",
        description="Find, group and search the faces in your photos (FaceNet). "
                    "Without a command, the faceorganizer window opens.")
    parser.add_argument("--version", action="version", version=f"faceorganizer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_gui(commands)
    for module in COMMANDS:
        module.register(commands)
    return parser


def open_window(library: str | None, weights: Path | None = None) -> int:
    """The window on ``library`` (``--library``), else on ``$FACEORGANIZER_LIBRARY``, as every
    command does; without either, the window opens the last library used, or the default."""
    from faceorganizer.gui.app import main as gui_main

    if library is None and os.environ.get("FACEORGANIZER_LIBRARY"):
        library = os.environ["FACEORGANIZER_LIBRARY"]
    return gui_main(library=library, weights=weights)


def add_gui(commands: Any) -> None:
    parser = commands.add_parser("gui", help="open the faceorganizer window (the default)")
    parser.add_argument("--library", metavar="PATH|URL",
                        help=f"{LIBRARY_HELP} to open (default: $FACEORGANIZER_LIBRARY, else the last "
                             "library opened, else library.sqlite in the user data folder)")
    parser.add_argument("--weights", metavar="FILE", type=Path,
                        help="switch the library to these FaceNet weights (its faces are re-embedded)")
    parser.set_defaults(run=lambda args: open_window(args.library, args.weights))


def entry() -> NoReturn:
    """The ``faceorganizer`` command: :func:`main`, then a quick exit. Once torch and the models
    are loaded, the interpreter's own teardown (freeing the models, stopping torch's and
    onnxruntime's thread pools) takes about half a second after the work is done; so a command
    that loaded them runs the exit handlers, flushes its output and ends without it. The
    window, and every command that never loaded torch, exit normally."""
    code = main()
    window = len(sys.argv) < 2 or sys.argv[1] == "gui" or sys.argv[1].startswith("-")
    if window or "torch" not in sys.modules:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):  # no command: the window, as `faceorganizer gui` opens it
        return open_window(None)
    try:
        return int(args.run(args) or 0)
    except FaceorganizerError as exc:
        print(f"faceorganizer: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `faceorganizer photos | head`
        sys.stderr.close()
        return 0
    except (sqlalchemy.exc.DBAPIError, sqlite3.Error, OSError) as exc:
        # The last resort for a library or disk error that escaped its unit of work: one line.
        from faceorganizer.store.errors import explain

        target = library_target(args) if "library" in args else None
        message = explain(exc, target if isinstance(target, Path) else None)
        if message is None:  # a bug: its traceback is wanted
            raise
        print(f"faceorganizer: error: {message}", file=sys.stderr)
        return 2
