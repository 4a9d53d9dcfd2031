"""Scan speed, memory and detection quality against the naive facenet-pytorch loop.

Times whole processes, as a user feels them: ``faceorganizer scan`` on
``../shared/data/album`` and on a phone-sized copy of it (each photo upscaled to
4032 px on its long side, JPEG quality 92, made here), and ``naive_facenet.py`` on
the same folders. Prints photos/s, faces/s, peak memory (max RSS) and the ratios,
then checks detection on the album (faces per photo within album.csv's range), the
PASCAL VOC group photos (face boxes found at IoU >= 0.4) and the negatives.

Also the face_recognition peer (dlib HOG + ResNet) when ``--face-recognition PYTHON`` names
the Python of its virtual environment (../shared/docs/peers.md), and a rescan of an unchanged
10,000-photo library (the album's photos copied under new names, scanned once first).

    .venv/bin/python benchmarks/scan_speed.py [--skip-naive] [--workers N]
        [--face-recognition /path/to/peer/bin/python] [--rescan-photos 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
PHONE_SIDE = 4032


def run(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=REPO)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({status}): {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024, out


def make_phone_copy(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.jpg")):
        out = target / path.name
        if out.exists():
            continue
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = PHONE_SIDE / max(image.size)
            size = (round(image.width * scale), round(image.height * scale))
            image.resize(size, Image.Resampling.LANCZOS).save(out, quality=92)
    return target


def scan(folder: Path, library: Path, workers: int | None) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "faceorganizer", "scan", str(folder), "--library",
               str(library), "--json"]
    if workers:
        command += ["--workers", str(workers)]
    seconds, peak, out = run(command)
    return seconds, peak, json.loads(out)


def faces_per_photo(library: Path) -> dict[str, list[list[float]]]:
    _, _, out = run([sys.executable, "-m", "faceorganizer", "faces", "--library", str(library),
                     "--json"])
    found: dict[str, list[list[float]]] = defaultdict(list)
    for face in json.loads(out):
        found[Path(face["photo"]).name].append(face["box"])
    return found


def iou(a: list[float], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def album_in_range(counts: dict[str, int]) -> tuple[int, list[str]]:
    wrong = []
    with (DATA / "album.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        n = counts.get(row["file"], 0)
        if not int(row["faces_min"]) <= n <= int(row["faces_max"]):
            wrong.append(f"{row['file']}: {n} (expected {row['faces_min']}-{row['faces_max']})")
    return len(rows) - len(wrong), wrong


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow baseline")
    parser.add_argument("--workers", type=int, help="faceorganizer scan --workers")
    parser.add_argument("--phone-dir", type=Path, help="where to keep the phone-sized copy")
    parser.add_argument("--face-recognition", type=Path, metavar="PYTHON",
                        help="the Python of a virtual environment with face_recognition")
    parser.add_argument("--rescan-photos", type=int, default=10000,
                        help="photos in the unchanged library rescanned (0 to skip)")
    args = parser.parse_args()
    if not (DATA / "album.csv").is_file():
        sys.exit(f"the benchmark photos are missing: {DATA}")
    print(f"Machine: {machine()}")
    album = DATA / "album"
    with tempfile.TemporaryDirectory(prefix="faceorganizer-bench-") as tmp:
        phone = make_phone_copy(album, args.phone_dir or Path(tmp) / "phone")
        results = {}
        for label, folder in [("album", album), ("phone-sized", phone)]:
            photos = len(list(folder.glob("*.jpg")))
            seconds, peak, summary = scan(folder, Path(tmp) / f"{label}.sqlite", args.workers)
            line = {"photos": photos, "seconds": seconds, "peak_mb": peak,
                    "faces": summary["faces"]}
            if not args.skip_naive:
                n_seconds, n_peak, out = run([sys.executable, str(REPO / "benchmarks" /
                                                                  "naive_facenet.py"), str(folder)])
                naive_counts = json.loads(out)
                line.update(naive_seconds=n_seconds, naive_peak_mb=n_peak,
                            naive_faces=sum(naive_counts.values()),
                            naive_album_ok=album_in_range(naive_counts)[0])
            if args.face_recognition and label == "album":
                f_seconds, f_peak, out = run([str(args.face_recognition), str(REPO / "benchmarks" /
                                                                        "face_recognition_peer.py"),
                                              str(folder)])
                fr_counts = json.loads(out)
                line.update(fr_seconds=f_seconds, fr_peak_mb=f_peak, fr_faces=sum(fr_counts.values()),
                            fr_album_ok=album_in_range(fr_counts)[0])
            results[label] = line

        print(f"\n{'':<12} {'photos/s':>9} {'faces/s':>8} {'peak MB':>8} {'seconds':>8}")
        for label, r in results.items():
            print(f"{label:<12} {r['photos'] / r['seconds']:>9.2f} {r['faces'] / r['seconds']:>8.2f} "
                  f"{r['peak_mb']:>8.0f} {r['seconds']:>8.1f}   faceorganizer scan")
            if "naive_seconds" in r:
                print(f"{'':<12} {r['photos'] / r['naive_seconds']:>9.2f} "
                      f"{r['naive_faces'] / r['naive_seconds']:>8.2f} {r['naive_peak_mb']:>8.0f} "
                      f"{r['naive_seconds']:>8.1f}   naive facenet-pytorch loop")
                target = 6 if label == "album" else 25
                ratio = r["naive_seconds"] / r["seconds"]
                verdict = "meets" if ratio >= target else "MISSES"
                print(f"{'':<12} speed-up {ratio:.1f}x ({verdict} the {target}x target); "
                      f"faces: {r['faces']} vs naive {r['naive_faces']}")
            if "fr_seconds" in r:
                print(f"{'':<12} {r['photos'] / r['fr_seconds']:>9.2f} "
                      f"{r['fr_faces'] / r['fr_seconds']:>8.2f} {r['fr_peak_mb']:>8.0f} "
                      f"{r['fr_seconds']:>8.1f}   face_recognition (dlib HOG)")
                ratio = r["fr_seconds"] / r["seconds"]
                verdict = "meets" if ratio >= 10 else "MISSES"
                print(f"{'':<12} speed-up {ratio:.1f}x ({verdict} the 10x target); "
                      f"faces: {r['faces']} vs face_recognition {r['fr_faces']} "
                      f"({r['fr_album_ok']}/64 photos in range)")

        print("\nDetection with the default settings")
        counts = {k: len(v) for k, v in faces_per_photo(Path(tmp) / "album.sqlite").items()}
        ok, wrong = album_in_range(counts)
        print(f"  album: {ok}/64 photos within album.csv's face range" +
              (f"; off: {', '.join(wrong)}" if wrong else ""))
        if "naive_album_ok" in results["album"]:
            print(f"         (naive loop: {results['album']['naive_album_ok']}/64)")
        scan(DATA / "groups", Path(tmp) / "groups.sqlite", args.workers)
        found = faces_per_photo(Path(tmp) / "groups.sqlite")
        truth: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        with (DATA / "groups" / "voc_face_boxes.csv").open() as handle:
            for row in csv.DictReader(handle):
                x, y, w, h = (float(row[k]) for k in ("left", "top", "width", "height"))
                truth[row["file"]].append((x, y, x + w, y + h))
        hits = sum(1 for name, boxes in truth.items() for box in boxes
                   if any(iou(f, box) >= 0.4 for f in found.get(name, [])))
        total = sum(len(b) for b in truth.values())
        print(f"  VOC group photos: {hits}/{total} face boxes found at IoU >= 0.4 "
              f"({100 * hits / total:.0f}%, target 90%)")
        scan(DATA / "negatives", Path(tmp) / "negatives.sqlite", args.workers)
        false = faces_per_photo(Path(tmp) / "negatives.sqlite")
        print(f"  negatives: {sum(len(v) for v in false.values())} faces in 22 photos without "
              f"people (target at most 2)")
        if args.rescan_photos:
            print(f"\nRescan of an unchanged library of {args.rescan_photos} photos: "
                  f"{rescan_seconds(album, Path(tmp), args.rescan_photos):.2f} s (target 3 s)")


def rescan_seconds(album: Path, tmp: Path, count: int) -> float:
    """A whole ``faceorganizer scan`` of an unchanged library of ``count`` photos (small JPEGs
    made here, in folders of 100; the first scan, which analyses them, is not timed)."""
    big = tmp / "big"
    rng = random.Random(0)
    for i in range(count):
        folder = big / f"{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        Image.new("RGB", (96, 72), colour).save(folder / f"p{i:05d}.jpg", quality=80)
    library = tmp / "big.sqlite"
    scan(big, library, None)
    seconds, _, summary = scan(big, library, None)
    assert summary["unchanged"] == count, summary
    return seconds


if __name__ == "__main__":
    main()
