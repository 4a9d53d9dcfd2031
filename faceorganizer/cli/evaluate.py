"""``faceorganizer evaluate lfw`` and ``evaluate clusters``: measure recognition."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceorganizer.cli.common import add_json_option, print_json
from faceorganizer.cli.scan import add_model_options


def register(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", help="measure verification and clustering quality")
    kinds = evaluate.add_subparsers(dest="kind", metavar="KIND", required=True)
    lfw = kinds.add_parser("lfw", help="LFW View 2: 10-fold accuracy and VAL at FAR 1e-3",
                           description="The standard LFW protocol on pre-aligned crops (fed "
                                       "straight to the embedder, resized to 160 px).")
    lfw.add_argument("--root", type=Path, required=True, metavar="DIR",
                     help="the folder of person folders with NAME_0001.jpg crops")
    lfw.add_argument("--pairs", type=Path, required=True, metavar="FILE", help="pairs.txt")
    lfw.add_argument("--flip", action="store_true",
                     help="also embed each mirrored crop and average (test-time augmentation)")
    add_model_options(lfw)
    add_json_option(lfw)
    lfw.set_defaults(run=run_lfw)

    clusters = kinds.add_parser("clusters", help="BCubed and pairwise scores on a folder per person")
    clusters.add_argument("folder", type=Path, metavar="FOLDER")
    add_model_options(clusters)
    add_json_option(clusters)
    clusters.set_defaults(run=run_clusters)

    review = kinds.add_parser(
        "review", help="answer the questions as a user who knows everyone would: how fast they "
                       "finish the library",
        description="Scan FOLDER (one folder per person) into a temporary library, group it, then "
                    "answer its questions truthfully, most useful first, and report BCubed "
                    "scores before, after each answer, and at the end (after a regroup).")
    review.add_argument("folder", type=Path, metavar="FOLDER")
    review.add_argument("--budget", type=int, metavar="N",
                        help="at most N answers (default: 2 per person in FOLDER)")
    add_model_options(review)
    add_json_option(review)
    review.set_defaults(run=run_review)


def run_lfw(args: argparse.Namespace) -> int:
    from faceorganizer.evaluation.lfw import embed_images, evaluate_distances, pair_distances, read_pairs
    from faceorganizer.models.loader import load_models

    pairs = read_pairs(args.pairs)
    embedder = load_models(args.device, args.weights).embedder
    show = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\rembedding {done}/{total} images", end="", file=sys.stderr, flush=True)

    embeddings = embed_images(args.root, pairs.images, embedder.embed, flip=args.flip,
                              progress=progress)
    if show:
        print(file=sys.stderr)
    result = evaluate_distances(pair_distances(pairs, embeddings), pairs)
    if args.json:
        print_json(result.as_dict())
    else:
        print(f"LFW View 2 ({result.pairs} pairs, 10 folds): accuracy {100 * result.accuracy:.2f}% "
              f"+- {100 * result.std:.2f}%, VAL {100 * result.val:.2f}% +- {100 * result.val_std:.2f}% "
              f"at FAR {result.far:.4f}, threshold {result.threshold:.3f} (squared L2)")
    return 0


def run_clusters(args: argparse.Namespace) -> int:
    from faceorganizer.evaluation.clusters import evaluate_folder
    from faceorganizer.models.loader import load_models

    if not args.folder.is_dir():
        from faceorganizer.cli.common import CommandError

        raise CommandError(f"{args.folder} is not a folder")
    result = evaluate_folder(args.folder, lambda: load_models(args.device, args.weights, workers=2))
    if args.json:
        print_json(result.as_dict())
    else:
        s = result.scores
        print(f"{result.photos} photos of {result.people_true} people "
              f"({result.photos_without_face} without a face): {result.people_found} people found")
        print(f"BCubed precision {s.bcubed_precision:.4f}, recall {s.bcubed_recall:.4f}, "
              f"F {s.bcubed_f:.4f}; pairwise precision {s.pairwise_precision:.4f}, "
              f"recall {s.pairwise_recall:.4f}, F1 {s.pairwise_f1:.4f} ({result.seconds:.1f} s)")
    return 0


def run_review(args: argparse.Namespace) -> int:
    from faceorganizer.cli.common import CommandError
    from faceorganizer.evaluation.review import evaluate_review
    from faceorganizer.models.loader import load_models

    if not args.folder.is_dir():
        raise CommandError(f"{args.folder} is not a folder")
    if args.budget is not None and args.budget < 0:
        raise CommandError("--budget must be 0 or more")
    show = sys.stderr.isatty() and not args.json

    def progress(answers: int, f: float) -> None:
        if show:
            print(f"\r{answers} answers: BCubed F {f:.4f}", end="", file=sys.stderr, flush=True)

    result = evaluate_review(args.folder, lambda: load_models(args.device, args.weights, workers=2),
                             args.budget, progress=progress)
    if show:
        print(file=sys.stderr)
    if args.json:
        print_json(result.as_dict())
        return 0
    s, e = result.start, result.end
    print(f"{result.people_true} people in the folder; grouped into {result.people_start}, "
          f"{result.people_end} after {result.answers} answers ({result.skipped} skipped)")
    print(f"start: BCubed precision {s.bcubed_precision:.4f}, recall {s.bcubed_recall:.4f}, "
          f"F {s.bcubed_f:.4f}")
    print(f"end:   BCubed precision {e.bcubed_precision:.4f}, recall {e.bcubed_recall:.4f}, "
          f"F {e.bcubed_f:.4f} (after a regroup)")
    marks = [p for p in result.curve if p[0] in {1, 2, 5, 10, 20, 50, 100, 200} or p is result.curve[-1]]
    print("curve: " + ", ".join(f"{n}: {f:.3f}" for n, f in marks))
    return 0
