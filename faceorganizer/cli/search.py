"""``faceorganizer search``, ``verify`` and ``identify``: recognition from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceorganizer.cli.common import (
    add_json_option,
    add_library_option,
    library_target,
    open_library,
    print_json,
)
from faceorganizer.cli.scan import add_model_options

if TYPE_CHECKING:
    from faceorganizer.models.base import Models
    from faceorganizer.people.settings import PeopleSettings
    from faceorganizer.store import Library


def register(commands: Any) -> None:
    search = commands.add_parser("search", help="find the photos of a face",
                                 description="Photos ranked by how close their nearest face is "
                                             "to a face of the library or of an outside photo.")
    add_library_option(search)
    source = search.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, metavar="FILE", help="search with a face of this photo")
    source.add_argument("--face", type=int, metavar="FACE_ID", help="search with a library face")
    search.add_argument("--pick", type=int, metavar="N",
                        help="with --image: the N-th face from the left (default: the largest)")
    search.add_argument("--top", type=int, default=50, metavar="K", help="at most K photos (50)")
    search.add_argument("--threshold", type=float, metavar="D",
                        help="only faces closer than this (default: the verification threshold)")
    add_model_options(search)
    add_json_option(search)
    search.set_defaults(run=run_search)

    verify = commands.add_parser("verify", help="are the largest faces of two photos one person?")
    verify.add_argument("first", type=Path, metavar="FILE_A")
    verify.add_argument("second", type=Path, metavar="FILE_B")
    add_library_option(verify)
    add_model_options(verify)
    add_json_option(verify)
    verify.set_defaults(run=run_verify)

    identify = commands.add_parser("identify", help="name the known people in a photo")
    identify.add_argument("photo", type=Path, metavar="FILE")
    add_library_option(identify)
    add_model_options(identify)
    add_json_option(identify)
    identify.set_defaults(run=run_identify)


def _models(args: argparse.Namespace, library: Library | None = None) -> Models:
    """The models; with a library, its weights (``--weights`` must match them)."""
    from faceorganizer.models.loader import load_models
    from faceorganizer.reembed import library_weights

    if library is None:
        return load_models(args.device, args.weights)
    return load_models(args.device, library_weights(library, args.weights, switch=False))


def _people_settings(args: argparse.Namespace) -> PeopleSettings:
    """The library's people settings when there is a library, else the defaults (in the built-in
    distances: ``verify`` reads them in the space of the weights it embeds with)."""
    from faceorganizer.people.settings import PeopleSettings, load_settings

    target = library_target(args)
    if isinstance(target, Path) and not target.exists():
        return PeopleSettings()
    with open_library(args, create=False) as library:
        return load_settings(library)


def run_search(args: argparse.Namespace) -> int:
    from faceorganizer.people.recognition import embed_face, faces_in, pick_face
    from faceorganizer.people.search import FaceIndex
    from faceorganizer.people.settings import load_settings

    with open_library(args, create=False) as library:  # a server's index searches in it
        settings = load_settings(library)
        index = FaceIndex.load(library)
        if index.note:
            print(f"faceorganizer: {index.note}", file=sys.stderr)
        if args.face is not None:
            query = index.embedding_of(args.face)
        else:
            models = _models(args, library)
            query = embed_face(models, pick_face(faces_in(args.image, models), args.image, args.pick))
        threshold = args.threshold if args.threshold is not None else index.threshold(settings)
        hits = index.search(query, top=args.top, threshold=threshold)
    if args.json:
        print_json([{"photo": h.photo, "face": h.face, "distance": round(h.distance, 4)} for h in hits])
        return 0
    for h in hits:
        print(f"{h.distance:6.3f}  face {h.face:>6}  {h.photo}")
    print(f"{len(hits)} photos closer than {threshold}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from faceorganizer.people.recognition import verify

    verdict = verify(_models(args), args.first, args.second, _people_settings(args))
    if args.json:
        print_json({"distance": round(verdict.distance, 4), "threshold": verdict.threshold,
                    "same": verdict.same})
    else:
        word = "the same person" if verdict.same else "different people"
        print(f"{word} (distance {verdict.distance:.3f}, threshold {verdict.threshold})")
    return 0


def run_identify(args: argparse.Namespace) -> int:
    from faceorganizer.people.recognition import identify
    from faceorganizer.people.settings import load_settings

    with open_library(args, create=False) as library:
        found = identify(library, _models(args, library), args.photo, load_settings(library))
    if args.json:
        print_json([{"box": [round(v, 1) for v in f.box], "person": f.person, "name": f.name,
                     "distance": None if f.distance is None else round(f.distance, 4)}
                    for f in found])
        return 0
    for f in found:
        box = ", ".join(f"{v:.0f}" for v in f.box)
        who = f"{f.name} (person {f.person})" if f.person else "unknown"
        distance = f", distance {f.distance:.3f}" if f.distance is not None else ""
        print(f"[{box}]  {who}{distance}")
    print(f"{len(found)} faces")
    return 0
