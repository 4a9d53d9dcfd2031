"""Several scanners into one PostgreSQL library, against one scanner into a library file.

Starts a throwaway PostgreSQL server (tests/postgres.py), then times whole ``faceorganizer
scan`` processes, as a household's machines would run them, on the same folder:

- one scanner into an SQLite library file (the reference);
- 1, 2 and 4 scanners at once into one new PostgreSQL library each time.

Prints photos/s for each (from the first start to the last end), how the work was split
(photos each scanner analysed, and those it left to another), and checks that every server
library ends up identical to the file's: the same photos, the same faces (boxes to 0.1 px) and
the same people (the faces of each person). On a 2-core machine the models use both cores
already, so several scanners share them rather than add any: the figures measure what the
coordination costs, and what a household gains only where each scanner has its own machine.

    .venv/bin/python benchmarks/shared_scan.py [--folder ../shared/data/many] [--scanners 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))


def scan_processes(library: str, folder: Path, count: int) -> tuple[float, list[dict]]:
    """(wall seconds from the first start to the last end, each scanner's JSON summary)."""
    command = [str(REPO / ".venv" / "bin" / "faceorganizer"), "scan", str(folder), "--library", library,
               "--json"]
    started = time.perf_counter()
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=REPO) for _ in range(count)]
    outputs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            sys.exit(f"a scanner failed ({process.returncode}): {err.strip()[-2000:]}")
        outputs.append(json.loads(out))
    return time.perf_counter() - started, outputs


def content(library: str) -> tuple:
    """What must be identical: photos (path in root, status), faces (path, box to 0.1 px) and
    people (the set of faces of each)."""
    from sqlalchemy import select

    from faceorganizer.store import Library
    from faceorganizer.store.schema import Face, Photo

    with Library(library, create=False) as opened, opened.reader() as session:
        photos = sorted(session.execute(select(Photo.rel, Photo.status)).all())
        faces = session.execute(select(Photo.rel, Face.x1, Face.y1, Face.x2, Face.y2, Face.person_id)
                                .join(Face, Face.photo_id == Photo.id)).all()
    keys = [(rel, round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1))
            for rel, x1, y1, x2, y2, _ in faces]
    people: dict[int, list] = {}
    for key, (*_, person) in zip(keys, faces, strict=True):
        if person is not None:
            people.setdefault(person, []).append(key)
    return (photos, sorted(keys), sorted(sorted(group) for group in people.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DATA / "many")
    parser.add_argument("--scanners", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    from tests import postgres

    server = postgres.start()
    if isinstance(server, str):
        sys.exit(f"no PostgreSQL server: {server}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; PostgreSQL from "
          f"{server.bin_dir}; folder {args.folder}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            file_library = str(Path(tmp) / "library.sqlite")
            seconds, (summary,) = scan_processes(file_library, args.folder, 1)
            photos = summary["new"] + summary["unchanged"] + summary["changed"] + summary["failed"]
            reference = content(file_library)
            print(f"SQLite, 1 scanner: {seconds:.1f} s, {photos / seconds:.1f} photos/s "
                  f"({photos} photos, {len(reference[1])} faces, {len(reference[2])} people)")
            for count in args.scanners:
                address = server.new_database("bench", vector=False)
                seconds, summaries = scan_processes(address, args.folder, count)
                split = ", ".join(f"{s['new']} analysed + {s['elsewhere']} left to others" for s in summaries)
                same = content(address) == reference
                print(f"PostgreSQL, {count} scanner{'s at once' if count > 1 else ''}: {seconds:.1f} s, "
                      f"{photos / seconds:.1f} photos/s; {split}; library identical to the file's: "
                      f"{'yes' if same else 'NO'}")
                if not same:
                    sys.exit("the libraries differ")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
