"""``faceorganizer questions`` and ``faceorganizer apart``: what would finish the library."""

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


def register(commands: Any) -> None:
    questions = commands.add_parser(
        "questions", help="the questions that would finish the library, most useful first",
        description="Are these two people the same person? Is this face that person? Most useful "
                    "first: what a yes would settle, times how likely it is. Answer 'same' with "
                    "`merge A B`, 'different' with `apart A B`; a face with `confirm F` or "
                    "`move F B` (yes) or `reject F` (no).")
    add_library_option(questions)
    questions.add_argument("--limit", type=int, metavar="N", help="at most N questions")
    add_json_option(questions)
    questions.set_defaults(run=run_questions)

    apart = commands.add_parser(
        "apart", help="say two people are different (for good); --take-back to undo it",
        description="Two people are different: no scan or regrouping puts their faces together "
                    "again, and the pair is not asked about again.")
    add_library_option(apart)
    apart.add_argument("person", type=int, metavar="PERSON_ID")
    apart.add_argument("other", type=int, metavar="OTHER_PERSON_ID")
    apart.add_argument("--take-back", action="store_true",
                       help="forget that these two were said to be different")
    apart.set_defaults(run=run_apart)


def run_questions(args: argparse.Namespace) -> int:
    from faceorganizer.people.questions import QuestionBoard
    from faceorganizer.store import read

    if args.limit is not None and args.limit < 0:
        raise CommandError("--limit must be 0 or more")
    with open_library(args, create=False) as library:
        board = QuestionBoard(library)
        questions = board.questions(args.limit)
        if args.json:
            print_json([q.as_dict() for q in questions])
            return 0
        with library.reader() as session:
            people = {p.id: p for p in read.people(session)}

        def who(person_id: int) -> str:
            p = people.get(person_id)
            name = f' "{p.name}"' if p is not None and p.name else ""
            faces = f" ({p.faces} face{'s' if p.faces != 1 else ''})" if p is not None else ""
            return f"person {person_id}{name}{faces}"

        for i, q in enumerate(questions, 1):
            if q.kind == "merge":
                print(f"{i:>4}. Same person? {who(q.person or 0)} and {who(q.into)} "
                      f"(distance {q.distance:.3f}, {100 * q.likelihood:.0f}% likely). "
                      f"Yes: merge {q.person} {q.into}; no: apart {q.person} {q.into}")
            else:
                print(f"{i:>4}. Is face {q.face} {who(q.into)}? (distance {q.distance:.3f}, "
                      f"{100 * q.likelihood:.0f}% likely). Yes: move {q.face} {q.into}; "
                      f"no: reject {q.face}")
        total = board.count()
        print(f"{total} question{'s' if total != 1 else ''} open" +
              (f" ({len(questions)} shown)" if len(questions) < total else ""))
    return 0


def run_apart(args: argparse.Namespace) -> int:
    from faceorganizer.people import operations as ops

    with open_library(args, create=False) as library:
        if args.take_back:
            if ops.forget_apart(library, args.person, args.other):
                print(f"People {args.person} and {args.other} may be asked about again.")
            else:
                print(f"People {args.person} and {args.other} were not said to be different.")
        elif ops.apart(library, args.person, args.other):
            print(f"People {args.person} and {args.other} are different people; "
                  "they will not be put together or asked about again.")
        else:
            print(f"People {args.person} and {args.other} were already said to be different.")
    return 0
