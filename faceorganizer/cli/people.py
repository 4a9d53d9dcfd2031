"""``faceorganizer people`` and the commands that record the user's decisions."""

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
from faceorganizer.people.settings import PeopleSettings


def register(commands: Any) -> None:
    people = commands.add_parser("people", help="list the people found (hidden ones included)")
    add_library_option(people)
    add_json_option(people)
    people.set_defaults(run=run_people)

    def decision(name: str, help_text: str, *arguments: tuple[str, dict[str, Any]]) -> None:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        add_library_option(parser)
        for argument, options in arguments:
            parser.add_argument(argument, **options)
        parser.set_defaults(run=run_decision, decision=name)

    person = ("person", {"type": int, "metavar": "PERSON_ID"})
    face = ("face", {"type": int, "metavar": "FACE_ID", "nargs": "+"})
    decision("name", "name or rename a person (this confirms its faces)", person,
             ("name", {"metavar": "NAME"}))
    decision("merge", "merge a person into another one", person,
             ("into", {"type": int, "metavar": "INTO_PERSON_ID"}))
    decision("move", "move faces to a person (PERSON_ID, or 'new' for a new person)",
             ("face", {"type": int, "metavar": "FACE_ID", "nargs": "+"}),
             ("target", {"metavar": "PERSON_ID"}))
    decision("reject", "'not this person': take faces out of their person for good (for a face in "
             "no person: --person says which person it is not, else the one it is asked about)",
             face, ("--person", {"type": int, "metavar": "PERSON_ID", "default": None}))
    decision("confirm", "confirm faces (suggestions) in their person", face)
    decision("confirm-all", "confirm every suggestion waiting on a person", person)
    decision("hide", "hide a person from the people list", person)
    decision("unhide", "show a hidden person again", person)
    decision("ignore", "mark faces as not faces (ignored everywhere)", face)
    decision("unignore", "undo 'ignore' for faces", face)

    group = commands.add_parser(
        "cluster", help="regroup the faces into people, optionally with new settings",
        description="Regroup the library's faces into people. Named, hidden and confirmed "
                    "people are never changed. Settings given here are kept in the library.")
    add_library_option(group)
    defaults = PeopleSettings()
    for field, value in defaults.as_dict().items():
        group.add_argument("--" + field.replace("_", "-"), type=type(value), metavar="VALUE",
                           help=f"(default {value})")
    add_json_option(group)
    group.set_defaults(run=run_cluster)


def run_people(args: argparse.Namespace) -> int:
    from faceorganizer.store import read

    with open_library(args, create=False) as library, library.reader() as session:
        people = read.people_and_faces(session)
    if args.json:
        print_json([{"id": p.person.id, "name": p.person.name, "hidden": p.person.hidden,
                     "faces": [{"id": f.id, "photo": f.photo, "box": [round(v, 1) for v in f.box],
                                "state": f.state} for f in p.faces]} for p in people])
        return 0
    for p in people:
        extra = f", {p.person.suggestions} suggested" if p.person.suggestions else ""
        hidden = " (hidden)" if p.person.hidden else ""
        print(f"{p.person.id:>6}  {p.person.name or 'Unnamed'}{hidden}: {len(p.faces)} faces{extra}")
    print(f"{len(people)} people")
    return 0


def run_decision(args: argparse.Namespace) -> int:
    from faceorganizer.people import operations as ops

    with open_library(args, create=False) as library:
        match args.decision:
            case "name":
                ops.rename(library, args.person, args.name)
                print(f"Person {args.person} is now {' '.join(args.name.split())}.")
            case "merge":
                ops.merge(library, args.person, args.into)
                print(f"Person {args.person} merged into person {args.into}.")
            case "move":
                if args.target == "new":
                    new = ops.create_person(library, args.face)
                    print(f"Moved {len(args.face)} face(s) to a new person {new}.")
                else:
                    try:
                        target = int(args.target)
                    except ValueError:
                        raise CommandError(f"{args.target!r} is not a person id (or 'new')") from None
                    ops.move(library, args.face, target)
                    print(f"Moved {len(args.face)} face(s) to person {target}.")
            case "reject":
                rejected: int | None = (args.person if args.person is not None
                                        else _asked_about(library, args.face))
                ops.reject(library, args.face, rejected)
                print(f"{len(args.face)} face(s) taken out of their person; "
                      "they will not be suggested for it again." if rejected is None else
                      f"{len(args.face)} face(s) are not person {rejected}; "
                      "they will not be suggested for it again.")
            case "confirm":
                print(f"Confirmed {ops.confirm(library, args.face)} face(s).")
            case "confirm-all":
                print(f"Confirmed {ops.confirm_suggestions(library, args.person)} suggestion(s).")
            case "hide" | "unhide":
                ops.set_hidden(library, args.person, args.decision == "hide")
                print(f"Person {args.person} is {'hidden' if args.decision == 'hide' else 'shown'}.")
            case "ignore" | "unignore":
                ops.set_ignored(library, args.face, args.decision == "ignore")
                print(f"{len(args.face)} face(s) {'ignored' if args.decision == 'ignore' else 'restored'}.")
    return 0


def _asked_about(library: Any, faces: list[int]) -> int | None:
    """For "no" to "is this unsorted face X?" without --person: the X it is asked about."""
    from faceorganizer.people.questions import QuestionBoard
    from faceorganizer.store import read

    with library.reader() as session:
        found = [read.face(session, f) for f in faces]
    if all(f is None or f.person_id is not None for f in found):
        return None  # each is in its person (or unknown: the decision says so)
    asked = {q.into for q in (QuestionBoard(library).for_face(f) for f in faces) if q is not None}
    if len(asked) != 1:
        raise CommandError("These faces are in no person and not asked about one person: "
                           "say which person they are not with --person PERSON_ID.")
    return asked.pop()


def run_cluster(args: argparse.Namespace) -> int:
    from faceorganizer.people.recluster import recluster
    from faceorganizer.people.settings import load_settings, save_settings
    from faceorganizer.store.records import library_space

    with open_library(args, create=False) as library:
        with library.reader() as session:
            space = library_space(session)
        current = load_settings(library)
        # distances are given and shown in the library's own (those of its weights)
        changes = {f: getattr(args, f) for f in current.as_dict() if getattr(args, f) is not None}
        settings = current.with_shown(space, **changes)
        if changes:
            save_settings(library, settings)
        summary = recluster(library, settings)
    if args.json:
        print_json({**summary.as_dict(), "settings": settings.in_space(space).as_dict()})
    else:
        print(f"{summary.people} people ({summary.new_people} new), {summary.suggestions} "
              f"suggestions waiting, {summary.unsorted} unsorted faces ({summary.seconds:.1f} s)")
    return 0
