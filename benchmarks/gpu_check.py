"""The GPU against the CPU, in one run (issue 12): detection boxes within 2 px, embeddings at
cosine >= 0.999, the album scanned on each (photos/s), and the LFW 10-fold accuracy of the
GPU's precision (fp16 on CUDA) against the CPU's fp32. Exit status 1 when a check fails.

    benchmarks/gpu_check.sh      (or: .venv/bin/python benchmarks/gpu_check.py [--device cuda|mps])
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO))


def scan_rate(device: str, folder: Path) -> tuple[float, int]:
    from faceorganizer.models.loader import load_models
    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings
    from faceorganizer.store import Library

    settings = ScanSettings()
    models = load_models(device, workers=settings.workers, embed_batch=settings.embed_batch)
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "library.sqlite") as library:
        started = time.perf_counter()
        events = list(Scanner(library, lambda: models, settings).scan([folder]))
        seconds = time.perf_counter() - started
    summary = events[-1].summary  # type: ignore[union-attr]
    return summary.new / seconds, summary.faces


def main() -> int:
    import torch

    from faceorganizer.analysis import decode, find_faces
    from faceorganizer.boxes import iou
    from faceorganizer.evaluation.lfw import embed_images, evaluate_distances, pair_distances, read_pairs
    from faceorganizer.models.embedder import FacenetEmbedder
    from faceorganizer.models.loader import load_models
    from faceorganizer.models.weights import resolve
    from faceorganizer.settings import ScanSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "mps",
                        help="cpu runs the same checks CPU against CPU (a dry run of this script)")
    parser.add_argument("--skip-lfw", action="store_true")
    args = parser.parse_args()
    if (args.device == "cuda" and not torch.cuda.is_available()) or (
            args.device == "mps" and not torch.backends.mps.is_available()):
        print(f"no {args.device} device here: nothing to check")
        return 2
    name = {"cuda": torch.cuda.get_device_name() if args.device == "cuda" else "",
            "mps": "Apple MPS", "cpu": "none (a dry run on the CPU)"}[args.device]
    print(f"GPU: {name}; torch {torch.__version__}; {os.cpu_count()} CPUs")
    failures = []
    settings = ScanSettings()
    cpu = load_models("cpu", workers=1)
    gpu = load_models(args.device, workers=1)
    exact = FacenetEmbedder(resolve(), "cpu", precision="fp32")
    worst_px, cosines, matched, unmatched = 0.0, [], 0, 0
    for photo in sorted((DATA / "album").glob("*.jpg")):
        data = photo.read_bytes()
        decoded = decode(data, settings)
        on_cpu = find_faces(data, decoded, cpu.detector, settings).faces
        on_gpu = find_faces(data, decoded, gpu.detector, settings).faces
        for face in on_cpu:
            best = max(on_gpu, key=lambda g: iou(g.detection.box, face.detection.box), default=None)
            if best is None or iou(best.detection.box, face.detection.box) < 0.5:
                unmatched += 1
                continue
            matched += 1
            worst_px = max(worst_px, max(abs(a - b) for a, b in zip(face.detection.box, best.detection.box,
                                                                   strict=True)))
        crops = np.stack([f.crop for f in on_cpu]) if on_cpu else None
        if crops is not None:
            cosines.extend(np.sum(exact.embed(crops) * gpu.embedder.embed(crops), axis=1))
    print(f"detection: {matched} faces matched, {unmatched} not; boxes differ by at most {worst_px:.2f} px")
    print(f"embeddings (GPU {gpu.embedder.precision} vs CPU fp32): cosine min {min(cosines):.5f}, "
          f"mean {np.mean(cosines):.5f}")
    if unmatched or worst_px > 2.0:
        failures.append("boxes")
    if min(cosines) < 0.999:
        failures.append("embeddings")

    for device in (args.device, "cpu"):
        rate, faces = scan_rate(device, DATA / "album")
        print(f"scan of the album on {device}: {rate:.1f} photos/s ({faces} faces)")

    if args.skip_lfw:
        print("OK" if not failures else f"FAILED: {', '.join(failures)}")
        return 1 if failures else 0
    pairs = read_pairs(DATA / "lfw" / "pairs.txt")
    images = sorted(set(pairs.first) | set(pairs.second))
    accuracies = {}
    for label, embed in (("GPU", gpu.embedder.embed), ("CPU fp32", exact.embed)):
        started = time.perf_counter()
        vectors = embed_images(DATA / "lfw" / "images", images, embed, batch=256)
        accuracies[label] = evaluate_distances(pair_distances(pairs, vectors), pairs).accuracy
        print(f"LFW 10-fold on {label}: {accuracies[label]:.4f} ({time.perf_counter() - started:.0f} s)")
    if abs(accuracies["GPU"] - accuracies["CPU fp32"]) > 0.001:
        failures.append("lfw")
    print("OK" if not failures else f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
