"""``faceorganizer doctor``: is everything in place to scan?"""

from __future__ import annotations

import argparse
from typing import Any

from faceorganizer.cli.common import add_json_option, add_library_option, library_target, print_json


def register(commands: Any) -> None:
    parser = commands.add_parser("doctor", help="check versions, device, weights, library and window")
    add_library_option(parser)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from faceorganizer.doctor import full_report

    report = full_report(library_target(args), args.device)
    if args.json:
        print_json(report)
        return 0 if report["weights"]["ok"] else 1
    print(f"faceorganizer {report['faceorganizer']} on Python {report['python']} "
          f"({report['platform']})")
    for name, found in report["packages"].items():
        print(f"  {name:<20} {found or 'NOT INSTALLED'}")
    device = report["device"]
    print(f"device: {device['chosen'] or 'unavailable'}  (CUDA: {device['cuda_available']}, "
          f"MPS: {device['mps_available']}, CPU threads: {device['cpu_threads']})")
    if device.get("error"):
        print(f"  {device['error']}")
    weights = report["weights"]
    if weights["ok"]:
        print(f"weights: {weights['model_id']}  {weights['path']}")
    else:
        print(f"weights: NOT READY - {weights['error']}")
    library = report["library"]
    if not library["exists"]:
        print(f"library: {library['path']} (not created yet)")
    elif "error" in library:
        print(f"library: {library['path']}: {library['error']}")
    else:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(library["photos"].items())) or "empty"
        print(f"library: {library['path']} (schema {library['schema_version']}; photos: {counts})")
        used = library.get("weights")
        if used:
            print(f"  its weights: {used['model_id']}  {used.get('path') or '(built-in)'}"
                  + (f", distances x{used['distance_scale']:.3f}" if used.get("distance_scale") else "")
                  + (f"; {library['faces_to_reembed']} faces wait to be re-embedded"
                     if library.get("faces_to_reembed") else ""))
    print_display(report["display"])
    return 0 if weights["ok"] else 1


def print_display(display: dict[str, Any]) -> None:
    """Whether the window can open: the xcb plugin's missing libraries and how to install them."""
    if display["status"] == "ok":
        print("window: can open (Qt's X11 plugin finds all its libraries)")
    elif display["status"] == "unknown":
        print(f"window: not checked - {display['error']}")
    else:
        print(f"window: CANNOT OPEN on X11 - missing libraries: {', '.join(display['missing'])}")
        if display["command"]:
            print(f"  install them with: {display['command']}")
        if display["unmapped"]:
            print(f"  no package known for {', '.join(display['unmapped'])}: "
                  "install the packages of your system that provide "
                  + ("them" if len(display["unmapped"]) > 1 else "it"))
