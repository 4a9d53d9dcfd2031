"""``faceorganizer photos`` and ``faceorganizer faces``: what the library holds."""

from __future__ import annotations

import argparse
from typing import Any

from faceorganizer.cli.common import add_json_option, add_library_option, open_library, print_json
from faceorganizer.store import read
from faceorganizer.store.states import PhotoStatus


def register(commands: Any) -> None:
    photos = commands.add_parser("photos", help="list the photos in the library")
    add_library_option(photos)
    photos.add_argument("--status", choices=("ok", "failed", "missing"),
                        help="only photos with this status")
    add_json_option(photos)
    photos.set_defaults(run=run_photos)

    faces = commands.add_parser("faces", help="list the faces in the library")
    add_library_option(faces)
    add_json_option(faces)
    faces.set_defaults(run=run_faces)


def run_photos(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as library, library.reader() as session:
        rows = read.photos(session, PhotoStatus(args.status) if args.status else None)
    if args.json:
        print_json([{"id": r.id, "path": r.path, "status": r.status, "error": r.error,
                     "faces": r.faces} for r in rows])
        return 0
    for r in rows:
        detail = f"  ({r.error})" if r.error else ""
        print(f"{r.id:>6}  {r.status:<7}  {r.faces:>2} faces  {r.path}{detail}")
    print(f"{len(rows)} photos")
    return 0


def run_faces(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as library, library.reader() as session:
        rows = read.faces(session)
    if args.json:
        print_json([{"id": r.id, "photo": r.photo, "box": [round(v, 1) for v in r.box],
                     "probability": round(r.probability, 5), "person": r.person_id} for r in rows])
        return 0
    for r in rows:
        box = ", ".join(f"{v:.0f}" for v in r.box)
        print(f"{r.id:>6}  [{box}]  p={r.probability:.3f}  {r.photo}")
    print(f"{len(rows)} faces")
    return 0
