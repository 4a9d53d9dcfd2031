"""``faceorganizer train`` and ``faceorganizer personalize``: triplet-loss fine-tuning."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from faceorganizer.cli.common import (
    CommandError,
    add_json_option,
    add_library_option,
    open_library,
    print_json,
)
from faceorganizer.cli.progress import format_duration
from faceorganizer.cli.scan import add_model_options
from faceorganizer.paths import absolute


def _training_options(parser: argparse.ArgumentParser, epochs: int) -> None:
    from faceorganizer.training.config import TrainConfig

    d = TrainConfig()
    parser.add_argument("--epochs", type=int, default=epochs, metavar="N", help=f"epochs ({epochs})")
    parser.add_argument("--batch-people", type=int, default=d.batch_people, metavar="P",
                        help=f"people per mini-batch ({d.batch_people})")
    parser.add_argument("--faces-per-person", type=int, default=d.faces_per_person, metavar="K",
                        help=f"faces per person in a mini-batch ({d.faces_per_person})")
    parser.add_argument("--margin", type=float, default=d.margin, metavar="A",
                        help=f"the triplet loss margin alpha, squared L2 ({d.margin})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate ({d.lr})")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, metavar="W",
                        help=f"Adam weight decay ({d.weight_decay})")
    parser.add_argument("--trainable", choices=("last", "block8", "all"), default=d.trainable,
                        help="what is trained: the bottleneck (last), also the final block (block8), "
                             "or the whole network (all, for a GPU); folded BatchNorm stays frozen")
    parser.add_argument("--views", type=int, default=d.views, metavar="V",
                        help=f"augmented views per face precomputed when the trunk is frozen ({d.views})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"random seed ({d.seed})")
    add_model_options(parser, weights_help="the weights to start from (default: the built-in ones; "
                                           "for personalize, the library's)")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "train", help="fine-tune the FaceNet embedder with the triplet loss",
        description="Fine-tune FaceNet on labelled faces with the triplet loss and online semi-hard "
                    "mining, starting from the pretrained (or --weights) weights. DATASET is a "
                    "folder with a subfolder of photos per person, or a library file (its "
                    "confirmed people). The result is a weights file for --weights.")
    parser.add_argument("dataset", type=Path, metavar="DATASET")
    parser.add_argument("--out", type=Path, required=True, metavar="WEIGHTS",
                        help="where to write the trained weights (a checkpoint goes beside it)")
    _training_options(parser, epochs=10)
    parser.add_argument("--aligned", action="store_true",
                        help="the photos are aligned face crops already (like LFW's): no detection")
    parser.add_argument("--lfw-folds", metavar="FOLDS",
                        help="train only on the people of these folds of DATASET/people.txt, e.g. 1-9")
    parser.add_argument("--val-root", type=Path, metavar="DIR", help="LFW-format validation images")
    parser.add_argument("--val-pairs", type=Path, metavar="FILE", help="LFW-format pairs.txt")
    parser.add_argument("--val-folds", metavar="FOLDS",
                        help="validate on these folds of the pairs only, e.g. 10 (default: all)")
    parser.add_argument("--keep", choices=("best", "last"), default="best",
                        help="write the epoch with the best validation accuracy, or the last one")
    parser.add_argument("--resume", action="store_true",
                        help="go on from the checkpoint beside --out (same settings, more --epochs)")
    add_json_option(parser)
    parser.set_defaults(run=run_train)

    personal = commands.add_parser(
        "personalize", help="fine-tune FaceNet on the library's confirmed people, then use it",
        description="Fine-tune the library's weights on its confirmed people (named people and "
                    "confirmed faces), leaving a share of the people out to check on. If clustering "
                    "and verification of those unseen people get no worse (by more than 0.3 points), "
                    "the library switches to the new weights: every face is re-embedded and regrouped, "
                    "names and confirmations are kept.")
    add_library_option(personal)
    _training_options(personal, epochs=10)
    personal.add_argument("--held-out", type=float, default=0.25, metavar="SHARE",
                          help="share of the confirmed people kept out of training to check on (0.25)")
    personal.add_argument("--out", type=Path, metavar="WEIGHTS",
                          help="where to write the weights (default: a weights folder beside the library)")
    personal.add_argument("--no-switch", action="store_true",
                          help="measure and write the weights, but leave the library as it is")
    add_json_option(personal)
    personal.set_defaults(run=run_personalize)


class TrainingDisplay:
    """Progress on stderr: a redrawn line on a terminal, one line per epoch always."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def _line(self, text: str, final: bool = False) -> None:
        if not self.tty and not final:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns
        if self.tty:
            sys.stderr.write("\r" + text[: width - 1].ljust(width - 1) + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def __call__(self, event: Any) -> None:
        from faceorganizer.training.trainer import EpochDone, Stage, Step

        if self.quiet:
            return
        if isinstance(event, Stage):
            self._line(f"{event.text}: {event.done}/{event.total}", final=event.done >= event.total)
        elif isinstance(event, Step):
            filled = int(20 * event.step / event.steps)
            self._line(f"epoch {event.epoch}/{event.epochs} [{'#' * filled}{'.' * (20 - filled)}] "
                       f"{event.step}/{event.steps} · loss {event.loss:.4f} · "
                       f"active {100 * event.active:.1f}% · {format_duration(event.eta)} left")
        elif isinstance(event, EpochDone):
            self._line(describe_epoch(event.record), final=True)


def describe_epoch(record: Any) -> str:
    parts = [f"epoch {record.epoch}" if record.epoch else "before training"]
    if record.loss is not None:
        parts.append(f"loss {record.loss:.4f}, active triplets {100 * record.active:.1f}% "
                     f"(semi-hard {100 * record.semi_hard:.1f}%, fallback {100 * record.fallback:.1f}%, "
                     f"{record.triplets} triplets)")
    if record.validation:
        v = record.validation
        parts.append(f"validation {100 * v['accuracy']:.2f}% +- {100 * v['std']:.2f}%, "
                     f"VAL {100 * v['val']:.1f}% at FAR {v['far']:.4f}")
    if record.seconds:
        parts.append(f"{record.seconds:.0f} s")
    return ": ".join(parts[:1]) + ": " + ", ".join(parts[1:]) if len(parts) > 1 else parts[0]


def run_train(args: argparse.Namespace) -> int:
    from faceorganizer.evaluation.lfw import LfwError, read_pairs
    from faceorganizer.models.device import choose_device
    from faceorganizer.models.weights import resolve
    from faceorganizer.paths import cache_dir
    from faceorganizer.training import data
    from faceorganizer.training.trainer import PairValidation, TrainConfig, train

    config = TrainConfig(epochs=args.epochs, batch_people=args.batch_people,
                         faces_per_person=args.faces_per_person, margin=args.margin, lr=args.lr,
                         weight_decay=args.weight_decay, trainable=args.trainable, views=args.views,
                         seed=args.seed, keep=args.keep)
    config.check()
    if (args.val_root is None) != (args.val_pairs is None):
        raise CommandError("--val-root and --val-pairs go together")
    display = TrainingDisplay(quiet=args.json)
    dataset = absolute(args.dataset)
    device = choose_device(args.device)
    weights = resolve(args.weights, progress=lambda text: print(text, file=sys.stderr))
    faces = load_dataset(dataset, args, display)
    validation = None
    if args.val_root is not None:
        try:
            pairs = read_pairs(absolute(args.val_pairs))
        except (OSError, LfwError) as exc:
            raise CommandError(f"cannot read the validation pairs: {exc}") from exc
        folds = data.parse_folds(args.val_folds) if args.val_folds else None
        validation = PairValidation(absolute(args.val_root), pairs, folds)
        overlap = validation.people() & set(faces.people)
        if overlap and not args.json:
            print(f"warning: {len(overlap)} validation people are also training people; "
                  "their accuracy does not measure unseen people", file=sys.stderr)
    if not args.json:
        s = faces.summary()
        print(f"Training on {s['people_with_2_or_more']} people with 2 or more faces "
              f"({s['faces']} faces, {s['skipped']} photos skipped); trainable: {config.trainable}, "
              f"device: {device}", file=sys.stderr)
    result = train(faces, weights, absolute(args.out), config, device=device, validation=validation,
                   resume=args.resume, cache_dir=cache_dir() / "training", report=display)
    if args.json:
        print_json(result.as_dict())
    else:
        scale = result.extra["distance_scale"]
        print(f"Wrote {result.out} (epoch {result.kept_epoch}, distances x{scale:.3f} the built-in "
              f"ones'); use it with --weights {result.out}, or `faceorganizer weights use "
              f"{result.out}` for a library. {result.seconds:.0f} s in all.")
    return 0


def load_dataset(dataset: Path, args: argparse.Namespace, display: TrainingDisplay) -> Any:
    from faceorganizer.models.loader import load_models
    from faceorganizer.paths import cache_dir
    from faceorganizer.store import Library
    from faceorganizer.training import data

    def progress(done: int, total: int) -> None:
        from faceorganizer.training.trainer import Stage

        display(Stage("Reading the training faces", done, total))

    if dataset.is_file():
        if args.aligned or args.lfw_folds:
            raise CommandError("--aligned and --lfw-folds are for a folder of photos, not a library")
        library = Library(dataset, create=False)
        try:
            faces = data.from_library(library, progress=progress)
        finally:
            library.close()
    elif dataset.is_dir():
        people = None
        if args.lfw_folds:
            wanted = data.parse_folds(args.lfw_folds)
            folds = data.read_lfw_folds(dataset / "people.txt")
            people = [name for name, fold in folds.items() if fold in wanted]
        faces = data.from_folder(dataset, aligned=args.aligned,
                                 detector=lambda: load_models(args.device, args.weights).detector,
                                 cache_dir=cache_dir() / "training", people=people, progress=progress)
    else:
        raise CommandError(f"{dataset} does not exist")
    for source, reason in faces.skipped[:10]:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    if len(faces.skipped) > 10:
        print(f"... and {len(faces.skipped) - 10} more skipped", file=sys.stderr)
    return faces.only_trainable()


def run_personalize(args: argparse.Namespace) -> int:
    from faceorganizer.models.device import choose_device
    from faceorganizer.models.weights import resolve
    from faceorganizer.paths import cache_dir
    from faceorganizer.people.settings import load_settings
    from faceorganizer.reembed import library_weights
    from faceorganizer.training import data
    from faceorganizer.training.personalize import default_out, personalize
    from faceorganizer.training.trainer import Stage, TrainConfig

    config = TrainConfig(epochs=args.epochs, batch_people=args.batch_people,
                         faces_per_person=args.faces_per_person, margin=args.margin, lr=args.lr,
                         weight_decay=args.weight_decay, trainable=args.trainable, views=args.views,
                         seed=args.seed, keep="last")
    config.check()
    if not 0 < args.held_out < 1:
        raise CommandError("--held-out must be between 0 and 1")
    display = TrainingDisplay(quiet=args.json)
    device = choose_device(args.device)
    with open_library(args, create=False) as library:
        base = library_weights(library, args.weights, switch=False)
        settings = load_settings(library)
        faces = data.from_library(library, progress=lambda d, t: display(
            Stage("Cutting the confirmed faces from their photos", d, t)))
        name = library.server.database if library.server is not None else "library"
        out = absolute(args.out) if args.out else default_out(library.path, name)
        result = personalize(faces, base, out, config, settings, device=str(device), share=args.held_out,
                             cache_dir=cache_dir() / "training", report=display)
        switched = None
        if result.accepted and not args.no_switch:
            from faceorganizer.cli.maintenance import switch_library

            switched, _ = switch_library(library, resolve(out), args.device, args.json)
    if args.json:
        print_json({**result.as_dict(), "switched": switched.as_dict() if switched else None})
        return 0
    b, a = result.before, result.after
    print(f"Trained on {result.trained_people} people; checked on {result.held_out_people} people "
          f"it did not see ({len(faces.skipped)} faces skipped):")
    print(f"  clustering BCubed F   {100 * b.bcubed_f:6.2f} -> {100 * a.bcubed_f:6.2f}  "
          f"(precision {100 * b.bcubed_precision:.1f} -> {100 * a.bcubed_precision:.1f}, "
          f"recall {100 * b.bcubed_recall:.1f} -> {100 * a.bcubed_recall:.1f})")
    print(f"  pair accuracy         {100 * b.pair_accuracy:6.2f} -> {100 * a.pair_accuracy:6.2f}  "
          f"(false matches {b.false_matches} -> {a.false_matches}, "
          f"missed {b.missed_matches} -> {a.missed_matches})")
    better = "better" if a.lookalike_ratio > b.lookalike_ratio else "not better"
    print(f"  look-alikes: the closest 5% of different-person pairs at {b.lookalike_distance:.3f} -> "
          f"{a.lookalike_distance:.3f}, same-person pairs at {b.same_distance:.3f} -> "
          f"{a.same_distance:.3f}: ratio {b.lookalike_ratio:.2f} -> {a.lookalike_ratio:.2f} "
          f"({better} separated)")
    if not result.accepted:
        print("Not used: " + "; ".join(result.reasons) + f". The weights are in {out}.")
    elif args.no_switch:
        print(f"Wrote {out}; switch with `faceorganizer weights use {out}`.")
    else:
        print(f"The library now uses {out}"
              + (f"; {switched.faces} faces re-embedded" if switched else "") + ".")
    return 0
