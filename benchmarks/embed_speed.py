"""The embedding stage against the machine's limit: FaceNet (Inception-ResNet-v1, 2.84 GFLOP per
160 px face) in fp32, fp32 channels-last, and bfloat16 (autocast; this CPU has AVX512-BF16),
each as ms per face at the scan's batch size, and as a share of the machine's GEMM peak
measured here (a large matrix product in the same precision, all cores). With ``--lfw``, the
LFW 10-fold accuracy of each precision on ``../shared/data/lfw`` (the kept precision must stay
within 0.1 point of fp32).

With ``--onnx FILE`` (FaceNet exported to ONNX: ``torch.onnx.export`` needs the ``onnx``
package, which faceorganizer does not depend on), also onnxruntime's float32 on the CPU.

    .venv/bin/python benchmarks/embed_speed.py [--lfw] [--batch 32] [--threads N] [--onnx FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
GFLOP_PER_FACE = 2.84


def gemm_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a ``size`` x ``size`` matrix product in ``dtype`` (best of ``repeats``)."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def time_embedder(precision: str, crops: np.ndarray, repeats: int) -> float:
    """Seconds per face (best of ``repeats`` passes over ``crops``)."""
    from faceorganizer.models.embedder import FacenetEmbedder
    from faceorganizer.models.weights import resolve

    embedder = FacenetEmbedder(resolve(), "cpu", batch_size=len(crops), precision=precision)
    embedder.embed(crops)  # warm-up (and oneDNN's kernel choice)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.embed(crops)
        best = min(best, time.perf_counter() - started)
    return best / len(crops)


def time_onnxruntime(model: Path, crops: np.ndarray, threads: int, repeats: int) -> tuple[float, float]:
    """Seconds per face of onnxruntime's float32 CPU session, and its lowest cosine to torch's."""
    import onnxruntime

    from faceorganizer.models.embedder import FacenetEmbedder, standardise
    from faceorganizer.models.weights import resolve

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    batch = standardise(crops).numpy()
    out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        session.run(None, {session.get_inputs()[0].name: batch})
        best = min(best, time.perf_counter() - started)
    exact = FacenetEmbedder(resolve(), "cpu", precision="fp32").embed(crops)
    return best / len(crops), float(np.min(np.sum(exact * out, axis=1)))


def lfw_accuracy(precision: str) -> tuple[float, np.ndarray]:
    from faceorganizer.evaluation.lfw import embed_images, evaluate_distances, pair_distances, read_pairs
    from faceorganizer.models.embedder import FacenetEmbedder
    from faceorganizer.models.weights import resolve

    pairs = read_pairs(DATA / "lfw" / "pairs.txt")
    images = sorted(set(pairs.first) | set(pairs.second))
    embedder = FacenetEmbedder(resolve(), "cpu", batch_size=64, precision=precision)
    embeddings = embed_images(DATA / "lfw" / "images", images, embedder.embed)
    result = evaluate_distances(pair_distances(pairs, embeddings), pairs)
    return result.accuracy, np.stack([embeddings[i] for i in images])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", action="store_true")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--onnx", type=Path, help="FaceNet exported to ONNX, run by onnxruntime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from faceorganizer.evaluation.lfw import load_crop, read_pairs

    pairs = read_pairs(DATA / "lfw" / "pairs.txt")
    crops = np.stack([load_crop(DATA / "lfw" / "images", image) for image in pairs.first[:args.batch]])
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}")
    print(f"GEMM peak measured: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")
    for precision in ("fp32-nchw", "fp32", "bf16"):
        seconds = time_embedder(precision, crops, args.repeats)
        peak = peaks["bf16" if precision == "bf16" else "fp32"]
        achieved = GFLOP_PER_FACE / seconds
        print(f"{precision:10s} {seconds * 1e3:6.1f} ms per face  {achieved:6.0f} GFLOP/s  "
              f"{achieved / peak:5.1%} of the {precision[:4]} GEMM peak")
    if args.onnx:
        seconds, cosine = time_onnxruntime(args.onnx, crops, args.threads, args.repeats)
        achieved = GFLOP_PER_FACE / seconds
        print(f"{'onnxrt':10s} {seconds * 1e3:6.1f} ms per face  {achieved:6.0f} GFLOP/s  "
              f"{achieved / peaks['fp32']:5.1%} of the fp32 GEMM peak (cosine to torch fp32 >= {cosine:.5f})")
    if args.lfw:
        base, base_vectors = lfw_accuracy("fp32")
        low, low_vectors = lfw_accuracy("bf16")
        cosine = np.sum(base_vectors * low_vectors, axis=1)
        print(f"LFW 10-fold: fp32 {base:.4f}, bf16 {low:.4f} ({(low - base) * 100:+.2f} points); "
              f"bf16 vs fp32 embeddings: cosine min {cosine.min():.4f}, mean {cosine.mean():.5f}")


if __name__ == "__main__":
    main()
