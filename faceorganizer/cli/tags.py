"""``faceorganizer write-tags`` and ``add-face``: names into files, faces the detector missed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceorganizer.cli.common import add_json_option, add_library_option, open_library, print_json
from faceorganizer.cli.scan import add_model_options


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "write-tags", help="write the names of faces into XMP sidecars (or the photos)",
        description="Write, for every named face of a person that is not hidden, MWG face regions "
                    "and People keywords (digiKam, Lightroom) into the photo's sidecar NAME.EXT.xmp. "
                    "Everything else in an existing sidecar is kept; a second run changes nothing.")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="photos or folders (default: the whole library)")
    add_library_option(parser)
    parser.add_argument("--embed", action="store_true",
                        help="write into the photos themselves (JPEG, PNG, TIFF, WebP) instead of "
                             "sidecars; HEIC photos still get a sidecar")
    add_json_option(parser)
    parser.set_defaults(run=run_write_tags)

    parser = commands.add_parser(
        "add-face", help="add a face the detector missed, from a box",
        description="Add the face inside a box (displayed pixels, as `faces --json` gives them) to "
                    "a scanned photo: it is cut and embedded like a detected face, and named if "
                    "--name is given.")
    parser.add_argument("photo", type=Path, metavar="PHOTO")
    for name in ("x1", "y1", "x2", "y2"):
        parser.add_argument(name, type=float, metavar=name.upper())
    parser.add_argument("--name", help="the person it is (a new person if no one has that name)")
    add_library_option(parser)
    add_model_options(parser, weights_help=argparse.SUPPRESS)
    add_json_option(parser)
    parser.set_defaults(run=run_add_face)


def run_write_tags(args: argparse.Namespace) -> int:
    from faceorganizer.tagwriter import write_tags

    with open_library(args, create=False) as library:
        def progress(done: int, total: int) -> None:
            if not args.json and sys.stderr.isatty() and total:
                print(f"\rWriting names: {done}/{total}", end="\n" if done >= total else "",
                      file=sys.stderr, flush=True)

        report = write_tags(library, args.paths or None, embed=args.embed, progress=progress)
    if args.json:
        print_json(report.as_dict())
    else:
        files = "file" if report.written == 1 else "files"
        print(f"Names written to {report.written} {files}, {report.unchanged} unchanged, "
              f"{len(report.failed)} failed")
        for path, error in report.failed:
            print(f"  {path}: {error}")
    return 1 if report.failed else 0


def run_add_face(args: argparse.Namespace) -> int:
    from faceorganizer.drawn import add_face
    from faceorganizer.models.loader import load_models
    from faceorganizer.people.recluster import recluster
    from faceorganizer.people.settings import load_settings
    from faceorganizer.reembed import library_weights

    with open_library(args, create=False) as library:
        from faceorganizer.drawn import find_photo

        find_photo(library, args.photo)  # a clear error before the models load
        models = load_models(args.device, library_weights(library, args.weights, switch=False))
        added = add_face(library, args.photo, (args.x1, args.y1, args.x2, args.y2), models.embedder,
                         name=args.name)
        recluster(library, load_settings(library), only_if_stale=True)
        from faceorganizer.store.schema import Face, Person

        with library.reader() as session:
            face = session.get(Face, added.face)
            person = session.get(Person, face.person_id) if face and face.person_id else None
            result = {**added.as_dict(), "person": person.id if person else None,
                      "name": person.name if person else None,
                      "state": str(face.state) if face and person else None}
    if args.json:
        print_json(result)
    else:
        box = ", ".join(f"{v:.0f}" for v in added.box)
        who = (f"person {result['person']}" + (f" ({result['name']})" if result["name"] else "")
               if result["person"] else "no person yet")
        print(f"Added face {added.face} at [{box}] in {added.photo}: {who}")
    return 0
