"""How many answers finish a library: ``evaluate review`` on each evaluation album.

For each album (one folder per person; ``benchmarks/grouping_albums.py`` builds them under
/tmp/albums from ../shared/data), the real pipeline scans it into a temporary library and
groups it with the default settings, then a truthful simulated user answers the questions,
most useful first, up to two answers per true person (strangers seen once count as people).
Prints, per album: the grouping's BCubed precision / recall / F and people found, F after
1, 2, 5, 10, 20 and 50 answers, and what the user keeps after a regroup at the end. Target
(issue 10): end F >= 0.97 at precision >= 0.99 within the budget.

    .venv/bin/python benchmarks/grouping_albums.py          # once
    .venv/bin/python benchmarks/review_curves.py [--albums /tmp/albums] [--only many ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceorganizer.evaluation.review import ReviewResult, evaluate_review
from faceorganizer.models.loader import load_models

MARKS = (1, 2, 5, 10, 20, 50)


def f_at(result: ReviewResult, n: int) -> float:
    """F after ``n`` answers (the last value if fewer were needed)."""
    return dict(result.curve).get(n, result.curve[-1][1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=Path, default=Path("/tmp/albums"))
    parser.add_argument("--only", nargs="*", help="album names (default: every folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folders = sorted(p for p in args.albums.iterdir() if p.is_dir()) if args.albums.is_dir() else []
    if args.only:
        folders = [f for f in folders if f.name in args.only]
    if not folders:
        print(f"no albums in {args.albums}: run benchmarks/grouping_albums.py first", file=sys.stderr)
        return 1
    models = load_models("cpu", workers=2)
    results = {}
    header = (f"{'album':<20} {'true':>5} {'start P/R/F':>20} {'found':>6} "
              + " ".join(f"{'F@' + str(n):>6}" for n in MARKS)
              + f" {'answers':>8} {'end P/R/F (regrouped)':>24} {'people':>7} target")
    if not args.json:
        print(header)
    for folder in folders:
        result = evaluate_review(folder, lambda: models)
        results[folder.name] = result.as_dict()
        if args.json:
            continue
        s, e = result.start, result.end
        met = e.bcubed_f >= 0.97 and e.bcubed_precision >= 0.99
        print(f"{folder.name:<20} {result.people_true:>5} "
              f"{s.bcubed_precision:.3f}/{s.bcubed_recall:.3f}/{s.bcubed_f:.3f} {result.people_start:>6} "
              + " ".join(f"{f_at(result, n):>6.3f}" for n in MARKS)
              + f" {result.answers:>8} {e.bcubed_precision:.3f}/{e.bcubed_recall:.3f}/{e.bcubed_f:.3f}"
              f"{'':>6} {result.people_end:>7} {'met' if met else 'NOT met'}", flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
