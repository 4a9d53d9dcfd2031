"""``faceorganizer scan FOLDER...``: find the faces in a folder's photos."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceorganizer.cli.common import (
    CommandError,
    add_json_option,
    add_library_option,
    open_library,
    print_json,
)
from faceorganizer.cli.progress import ProgressBar
from faceorganizer.models.base import Models
from faceorganizer.paths import absolute
from faceorganizer.scan.events import ScanFinished, ScanProgress, ScanStarted, ScanSummary
from faceorganizer.settings import DETECTORS, ScanSettings

if TYPE_CHECKING:
    from faceorganizer.people.recluster import ReclusterSummary


def register(commands: Any) -> None:
    parser = commands.add_parser("scan", help="scan folders for photos and faces",
                                 description="Scan folders (recursively) into the library: "
                                             "new and changed photos are analysed, moved ones "
                                             "keep their faces, deleted ones are marked missing.")
    parser.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    add_library_option(parser)
    add_model_options(parser)
    defaults = ScanSettings()
    parser.add_argument("--detection-size", type=int, metavar="PX",
                        help=f"long side of the copy faces are detected on ({defaults.detection_size})")
    parser.add_argument("--min-face-size", type=int, metavar="PX",
                        help=f"ignore faces smaller than this in the photo ({defaults.min_face_size})")
    parser.add_argument("--min-probability", type=float, metavar="P",
                        help=f"ignore faces the detector is less sure of ({defaults.min_probability})")
    parser.add_argument("--detector", choices=DETECTORS,
                        help=f"the face detector ({defaults.detector}); photos analysed by the other "
                             "one are detected again, keeping face ids and decisions where boxes overlap")
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"photos decoded and detected at once ({defaults.workers})")
    parser.add_argument("--new-root", action="store_true",
                        help="on a library shared by several machines, add a folder as a new one even "
                             "though some folders added elsewhere are not mapped on this machine "
                             "(by default that is refused: map it with `roots map` if it is one of them)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="read files that could not be read before again, even if they did not "
                             "change (by default only changed ones are)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def add_model_options(parser: argparse.ArgumentParser, weights_help: str | None = None) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="where the models run (auto: CUDA, then Apple MPS, then CPU)")
    default_help = ("a facenet-pytorch state dict (say, from `faceorganizer train`) to use instead of "
                    "the built-in CASIA-WebFace weights; a scan switches the library to it and "
                    "re-embeds its faces (default: the library's weights, else "
                    "$FACEORGANIZER_WEIGHTS, else the built-in ones)")
    parser.add_argument("--weights", type=Path, metavar="FILE", help=weights_help or default_help)


def settings_from(args: argparse.Namespace) -> ScanSettings:
    return ScanSettings().with_overrides(
        detection_size=args.detection_size, min_face_size=args.min_face_size,
        min_probability=args.min_probability, workers=args.workers,
        detector=getattr(args, "detector", None))


def print_summary(summary: ScanSummary, library: str, grouping: ReclusterSummary) -> None:
    what = "Scan cancelled" if summary.cancelled else "Scanned"
    print(f"{what}: {', '.join(summary.roots)} in {summary.seconds:.1f} s")
    print(f"  photos: {summary.new} new, {summary.unchanged} unchanged, {summary.changed} changed, "
          f"{summary.moved} moved, {summary.missing} missing, {summary.failed} failed")
    if summary.still_failed:
        print(f"  ({summary.still_failed} failed before and unchanged since: not read again; "
              "--retry-failed reads them anyway)")
    print(f"  faces found: {summary.faces}")
    print(f"  people: {grouping.people} ({grouping.new_people} new), {grouping.suggestions} "
          f"suggestions waiting, {grouping.unsorted} unsorted faces")
    if summary.elsewhere:
        print(f"  analysed by another scan running at the same time: {summary.elsewhere}")
    if grouping.waiting:
        print(f"  not grouped yet: {grouping.waiting} other scan{'s are' if grouping.waiting > 1 else ' is'} "
              "still running on this library, and the last one to finish groups the faces")
    for root in summary.offline_roots:
        print(f"  offline (not found, its photos are kept): {root}")
    for problem in summary.problems:
        print(f"  folder not readable: {problem.path}: {problem.error}")
    if summary.tag_conflicts:
        print(f"Names in files the library decided otherwise on ({len(summary.tag_conflicts)}; "
              "the library's decision is kept):")
        for conflict in summary.tag_conflicts:
            box = ", ".join(f"{v:.0f}" for v in conflict.box)
            held = conflict.library_name or "an unnamed person, or not a face"
            print(f"  {conflict.photo} [{box}]: the file says {conflict.file_name}, the library {held}")
    if summary.warnings:
        photos = len({w.path for w in summary.warnings})
        print(f"Face regions (XMP) not all read in {photos} photo{'' if photos == 1 else 's'} "
              "(the photos were scanned):")
        for warning in summary.warnings:
            print(f"  {warning.path}: {warning.error}")
    if summary.failures:
        print(f"Failed files ({len(summary.failures)}):")
        for failure in summary.failures:
            print(f"  {failure.path}: {failure.error}")
    print(f"Library: {library}")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    library = open_library(args)
    with library.reader() as session:
        from faceorganizer.store.roots import is_within, places

        known_roots = [p.path for p in places(session, shared=library.shared) if p.path is not None]
    for folder in args.folders:
        path = absolute(folder)
        if not path.is_dir() and not any(is_within(str(path), r) for r in known_roots):
            what = "is not a folder" if path.exists() else "does not exist"
            raise CommandError(f"{path} {what}")

    from faceorganizer.reembed import library_weights

    weights = library_weights(library, args.weights, progress=lambda text: print(text, file=sys.stderr))

    def models() -> Models:
        from faceorganizer.models.loader import load_models

        return load_models(args.device, weights, workers=settings.workers,
                           embed_batch=settings.embed_batch, detector=settings.detector,
                           progress=lambda text: print(text, file=sys.stderr))

    from faceorganizer.jobs import GroupingFinished, GroupingStarted, scan_and_group
    from faceorganizer.reembed import ReembedFinished, ReembedProgress

    cancel = threading.Event()
    previous = cancel_on_interrupt(cancel)
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    summary: ScanSummary | None = None
    grouping = None
    reembedded = None
    try:
        for event in scan_and_group(library, args.folders, models, settings, cancel=cancel,
                                    retry_failed=args.retry_failed, new_root=args.new_root):
            if isinstance(event, ScanStarted) and not args.json:
                print(f"{event.total} photos to analyse, {event.unchanged} unchanged",
                      file=sys.stderr)
                if bar is not None and event.total:
                    bar.update(ScanProgress(0, event.total, 0, 0.0, None, ""))
            elif isinstance(event, ScanProgress) and bar is not None:
                bar.update(event)
            elif isinstance(event, ScanFinished):
                summary = event.summary
                if bar is not None:
                    bar.close()
            elif isinstance(event, ReembedProgress) and not args.json:
                print_reembed_progress(event)
            elif isinstance(event, ReembedFinished):
                reembedded = event.summary
            elif isinstance(event, GroupingStarted) and not args.json:
                print("Grouping faces into people...", file=sys.stderr)
            elif isinstance(event, GroupingFinished):
                grouping = event.summary
    finally:
        if bar is not None:
            bar.close()
        signal.signal(signal.SIGINT, previous)
        library.close()
    assert summary is not None and grouping is not None
    if args.json:
        print_json({**summary.as_dict(), "people": grouping.as_dict(), "library": library.name,
                    "reembedded": reembedded.as_dict() if reembedded else None})
    else:
        print_summary(summary, library.name, grouping)
        if reembedded is not None and (reembedded.faces or reembedded.unreadable):
            print(f"  re-embedded with {reembedded.model_id}: {reembedded.faces} faces"
                  + (f", {reembedded.unreadable} left (photo missing or unreadable)"
                     if reembedded.unreadable else ""))
    return 0


def print_reembed_progress(event: Any) -> None:
    last = event.done >= event.total
    if sys.stderr.isatty():
        print(f"\rRe-embedding faces with the library's weights: {event.done}/{event.total}",
              end="\n" if last else "", file=sys.stderr, flush=True)
    elif event.done == 0 or last:
        print(f"Re-embedding faces with the library's weights: {event.done}/{event.total}",
              file=sys.stderr)


def cancel_on_interrupt(cancel: threading.Event) -> Any:
    """First Ctrl+C: finish the batch in flight and stop. Second: stop at once."""
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nCancelling: saving the photos done so far (Ctrl+C again to stop at once)",
              file=sys.stderr)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
    return previous
