"""``faceorganizer roots``: the library's folders and where this machine finds them;
``faceorganizer roots map ROOT_ID PATH`` says where one is here."""

from __future__ import annotations

import argparse
from typing import Any

from faceorganizer.cli.common import (
    CommandError,
    add_json_option,
    add_library_option,
    open_library,
    print_json,
)
from faceorganizer.paths import absolute
from faceorganizer.store.read import FolderSummary, folders
from faceorganizer.store.roots import RootPlace, map_root, places
from faceorganizer.store.schema import current_machine


def register(commands: Any) -> None:
    roots = commands.add_parser(
        "roots", help="list the library's folders and where this machine finds them",
        description="The folders scanned into the library. A library on a server is shared by "
                    "several machines, which may find the same folder at different places "
                    "(/mnt/photos, /Volumes/photos): each machine maps each folder to its own "
                    "path. A folder not mapped on this machine is offline here: it is not "
                    "scanned, and none of its photos is marked missing.")
    add_library_option(roots)
    add_json_option(roots)
    roots.set_defaults(run=run_roots)
    actions = roots.add_subparsers(dest="action", metavar="ACTION")
    mapping = actions.add_parser("map", help="say where a folder of the library is on this machine")
    mapping.add_argument("root_id", type=int, metavar="ROOT_ID", help="the folder's id (see `roots`)")
    mapping.add_argument("path", metavar="PATH", help="where that folder is on this machine")
    add_library_option(mapping)
    add_json_option(mapping)
    mapping.set_defaults(run=run_map)


def _entry(place: RootPlace, summary: FolderSummary | None) -> dict[str, Any]:
    return {"id": place.id, "path": place.path, "added_path": place.added_path, "mapped": place.mapped,
            "online": bool(summary and summary.online),
            "photos": summary.photos if summary else 0,
            "missing": summary.missing if summary else 0,
            "machines": dict(sorted(place.machines.items()))}


def _report(session: Any, shared: bool) -> list[dict[str, Any]]:
    summaries = {f.root_id: f for f in folders(session, shared=shared)}
    return [_entry(p, summaries.get(p.id)) for p in places(session, shared=shared)]


def _print(entry: dict[str, Any]) -> None:
    where = entry["path"] if entry["path"] is not None else "not mapped on this machine"
    state = "" if entry["online"] else "  (offline here)"
    print(f"{entry['id']:>4}  {where}{state}  {entry['photos']} photos")
    if entry["path"] != entry["added_path"]:
        print(f"      added as {entry['added_path']}")
    for machine, path in entry["machines"].items():
        print(f"      {machine}: {path}")


def run_roots(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as library, library.reader() as session:
        report = _report(session, library.shared)
    if args.json:
        print_json({"machine": current_machine(), "roots": report})
        return 0
    print(f"This machine: {current_machine()}")
    for entry in report:
        _print(entry)
    if not report:
        print("No folder has been scanned yet.")
    return 0


def run_map(args: argparse.Namespace) -> int:
    path = absolute(args.path)
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise CommandError(f"{path} {what}: map a folder to where it is on this machine (mount the "
                           "share first).")
    with open_library(args, create=False) as library:
        with library.session() as session:
            map_root(session, args.root_id, str(path), shared=library.shared)
        with library.reader() as session:
            entry = next(e for e in _report(session, library.shared) if e["id"] == args.root_id)
    if args.json:
        print_json(entry)
    else:
        _print(entry)
    return 0
