"""RetinaFace MobileNet-0.25 against the app's MTCNN, on the same detection copies.

For each detector (MTCNN; RetinaFace in onnxruntime where it is installed; RetinaFace as
the torch module), at the app's settings (``ScanSettings()``: 640 px detection copy, faces
of at least 20 px in the photo, probability >= ``min_probability``):

- faces per album photo against ``album.csv``'s ranges, the 43 PASCAL VOC face boxes found
  at IoU >= 0.4, faces found in the 22 negatives, and the same over a sweep of probability
  thresholds (how the threshold was chosen);
- milliseconds per photo to detect on the album's detection copies, single-threaded by
  default (the median of ``--repeats`` runs, and the best);
- landmark agreement with MTCNN on the album faces both find (mean distance per point over
  the MTCNN box's side, and whether each point's nearest MTCNN point is the one of the same
  index), and the cosine between FaceNet embeddings of the two detectors' crops
  (``analysis.crops_of``), beside the same-person and different-person cosines of MTCNN
  crops on the album as a yardstick.

    .venv/bin/python benchmarks/detector_compare.py [--repeats 5] [--threads 1] [--skip-embeddings]

Other processes on the machine slow single runs: read the medians, and the best.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faceorganizer.analysis import crops_of, decode  # noqa: E402
from faceorganizer.boxes import iou  # noqa: E402
from faceorganizer.imaging import DecodedPhoto  # noqa: E402
from faceorganizer.models.base import Detection, FaceDetector  # noqa: E402
from faceorganizer.settings import ScanSettings  # noqa: E402

DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
VOC_IOU = 0.4
MATCH_IOU = 0.5


@dataclass
class Photo:
    name: str
    data: bytes
    decoded: DecodedPhoto


def load(folder: Path, names: list[str], settings: ScanSettings) -> list[Photo]:
    photos = []
    for name in names:
        data = (folder / name).read_bytes()
        photos.append(Photo(name, data, decode(data, settings)))
    return photos


def album_truth() -> dict[str, tuple[int, int, list[str]]]:
    with (DATA / "album.csv").open() as handle:
        return {row["file"]: (int(row["faces_min"]), int(row["faces_max"]), row["identities"].split(";"))
                for row in csv.DictReader(handle)}


def voc_truth() -> dict[str, list[tuple[float, float, float, float]]]:
    truth: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    with (DATA / "groups" / "voc_face_boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            left, top = float(row["left"]), float(row["top"])
            truth[row["file"]].append((left, top, left + float(row["width"]), top + float(row["height"])))
    return truth


def faces(detector: FaceDetector, photo: Photo, settings: ScanSettings) -> list[Detection]:
    """``analysis.find_faces``'s detections in photo pixels, before the probability cut."""
    decoded = photo.decoded
    found = [d.scaled(1.0 / decoded.detection_scale)
             for d in detector.detect(decoded.detection,
                                      min_face_size=settings.min_face_size * decoded.detection_scale)]
    return [d for d in found if min(d.width, d.height) >= settings.min_face_size]


def quality(found: dict[str, dict[str, list[Detection]]], threshold: float,
            album: dict[str, tuple[int, int, list[str]]],
            voc: dict[str, list[tuple[float, float, float, float]]]) -> tuple[int, list[str], int, int]:
    """(album photos in range, the ones out of range, VOC boxes found, faces in negatives)."""
    wrong = []
    for name, (low, high, _) in album.items():
        count = sum(d.probability >= threshold for d in found["album"][name])
        if not low <= count <= high:
            wrong.append(f"{name}: {count} (expected {low}-{high})")
    hits = 0
    for name, boxes in voc.items():
        kept = [d.box for d in found["groups"][name] if d.probability >= threshold]
        hits += sum(1 for box in boxes if any(iou(box, f) >= VOC_IOU for f in kept))
    negatives = sum(d.probability >= threshold for ds in found["negatives"].values() for d in ds)
    return len(album) - len(wrong), wrong, hits, negatives


def timing(detector: FaceDetector, photos: list[Photo], settings: ScanSettings,
           repeats: int) -> tuple[float, float]:
    """(median, best) milliseconds per photo over ``repeats`` passes through ``photos``."""
    for photo in photos[:3]:  # warm up
        faces(detector, photo, settings)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for photo in photos:
            detector.detect(photo.decoded.detection,
                            min_face_size=settings.min_face_size * photo.decoded.detection_scale)
        runs.append((time.perf_counter() - started) * 1000 / len(photos))
    return statistics.median(runs), min(runs)


def matched(a: list[Detection], b: list[Detection]) -> list[tuple[Detection, Detection]]:
    """Pairs (from a, from b) of the same face: best IoU first, at least MATCH_IOU."""
    pairs = sorted(((iou(x.box, y.box), i, j) for i, x in enumerate(a) for j, y in enumerate(b)),
                   reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for overlap, i, j in pairs:
        if overlap < MATCH_IOU:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((a[i], b[j]))
    return out


def landmark_agreement(pairs: list[tuple[Detection, Detection]]) -> tuple[float, float, int]:
    """(mean point distance / MTCNN box side, worst, faces whose every point's nearest
    reference point has the same index); pairs are (MTCNN, other)."""
    distances, worst, same_order = [], 0.0, 0
    for reference, other in pairs:
        ref = np.asarray(reference.landmarks)
        pts = np.asarray(other.landmarks)
        side = float(np.sqrt(reference.width * reference.height))
        d = np.linalg.norm(ref - pts, axis=1) / side
        distances.append(float(d.mean()))
        worst = max(worst, float(d.mean()))
        nearest = np.linalg.norm(pts[:, None, :] - ref[None, :, :], axis=2).argmin(axis=1)
        same_order += bool((nearest == np.arange(5)).all())
    return float(np.mean(distances)), worst, same_order


def torch_variants(photos: list[Photo], repeats: int) -> None:
    """Milliseconds per photo of the bare torch forward pass, in the ways one could run it."""
    import copy

    from faceorganizer.models.retinaface import load_net, padded_size, to_input
    from faceorganizer.models.retinaface_weights import read_detector_model

    net = load_net(read_detector_model())
    inputs = [torch.from_numpy(to_input([p.decoded.detection])) for p in photos]
    last = copy.deepcopy(net).to(memory_format=torch.channels_last)
    example = inputs[0].contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(copy.deepcopy(last), example, check_trace=False).eval())

    def run(model: torch.nn.Module, channels_last: bool, mode: str = "inference") -> float:
        context = torch.inference_mode if mode == "inference" else torch.no_grad
        with context():
            for x in inputs[:3]:
                model(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
            runs = []
            for _ in range(repeats):
                started = time.perf_counter()
                for x in inputs:
                    model(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
                runs.append((time.perf_counter() - started) * 1000 / len(inputs))
        return statistics.median(runs)

    print("\nthe torch module's forward pass alone (ms per photo, median):")
    print(f"  contiguous (NCHW), inference_mode   {run(net, False):7.1f}")
    print(f"  channels-last, no_grad              {run(last, True, 'no_grad'):7.1f}")
    print(f"  channels-last, inference_mode       {run(last, True):7.1f}")
    print(f"  channels-last, jit trace + freeze   {run(frozen, True):7.1f}")
    # Padded batches of 8 photos against the same photos one at a time.
    batches = [photos[k:k + 8] for k in range(0, len(photos) - 7, 8)]
    with torch.inference_mode():
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            for batch in batches:
                size = padded_size(max(p.decoded.detection.width for p in batch),
                                   max(p.decoded.detection.height for p in batch))
                x = torch.from_numpy(to_input([p.decoded.detection for p in batch], size))
                last(x.contiguous(memory_format=torch.channels_last))
            runs.append((time.perf_counter() - started) * 1000 / (8 * len(batches)))
    print(f"  channels-last, padded batches of 8  {statistics.median(runs):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--skip-embeddings", action="store_true")
    parser.add_argument("--torch-variants", action="store_true",
                        help="also time the torch module contiguous, channels-last, traced and frozen, "
                             "under no_grad and inference_mode, and in padded batches")
    args = parser.parse_args()

    from faceorganizer.models.detector import MtcnnDetector
    from faceorganizer.models.retinaface import RetinaFaceDetector, onnxruntime_available

    torch.set_num_threads(args.threads)
    settings = ScanSettings()
    album, voc = album_truth(), voc_truth()
    sets = {
        "album": load(DATA / "album", sorted(album), settings),
        "groups": load(DATA / "groups", sorted(voc), settings),
        "negatives": load(DATA / "negatives", sorted(p.name for p in (DATA / "negatives").iterdir()),
                          settings),
    }
    detectors: dict[str, FaceDetector] = {"mtcnn": MtcnnDetector("cpu")}
    if onnxruntime_available():
        detectors["retinaface-onnxruntime"] = RetinaFaceDetector("cpu", runtime="onnxruntime",
                                                                 threads=args.threads)
    else:
        print("onnxruntime is not installed: only the torch module is measured")
    detectors["retinaface-torch"] = RetinaFaceDetector("cpu", runtime="torch")

    print(f"{len(sets['album'])} album photos, {sum(len(b) for b in voc.values())} VOC face boxes in "
          f"{len(voc)} photos, {len(sets['negatives'])} negatives; detection copy "
          f"{settings.detection_size} px, min face {settings.min_face_size} px, "
          f"{args.threads} thread(s), torch {torch.__version__}\n")
    found: dict[str, dict[str, dict[str, list[Detection]]]] = {}
    for label, detector in detectors.items():
        found[label] = {kind: {p.name: faces(detector, p, settings) for p in photos}
                        for kind, photos in sets.items()}

    print(f"at min_probability {settings.min_probability} (the app's):")
    print(f"{'detector':<24}{'album in range':>16}{'VOC boxes':>12}{'negatives':>11}")
    for label in detectors:
        ok, wrong, hits, negatives = quality(found[label], settings.min_probability, album, voc)
        print(f"{label:<24}{ok:>13}/{len(album)}{hits:>9}/43{negatives:>11}")
        for line in wrong:
            print(f"    out of range: {line}")

    print("\nmargins: the lowest score of a VOC face found (IoU >= 0.4), the highest in the negatives:")
    for label in detectors:
        best_per_face = []
        for name, boxes in voc.items():
            for box in boxes:
                scores = [d.probability for d in found[label]["groups"][name] if iou(box, d.box) >= VOC_IOU]
                best_per_face.append(max(scores, default=0.0))
        negative = max((d.probability for ds in found[label]["negatives"].values() for d in ds), default=0.0)
        lowest = sorted(best_per_face)[:3]
        print(f"{label:<24}VOC faces' lowest scores {', '.join(f'{x:.3f}' for x in lowest)}; "
              f"negatives' highest {negative:.3f}")

    print("\nthreshold sweep (album in range, VOC boxes, faces in negatives):")
    print(f"{'threshold':<10}" + "".join(f"{label:>26}" for label in detectors))
    for threshold in SWEEP:
        cells = []
        for label in detectors:
            ok, _, hits, negatives = quality(found[label], threshold, album, voc)
            cells.append(f"{ok:>2}/{len(album)} {hits:>2}/43 {negatives:>3}")
        print(f"{threshold:<10}" + "".join(f"{c:>26}" for c in cells))

    print(f"\nsmall faces: VOC boxes found (of 43) at p >= {settings.min_probability} in smaller "
          "detection copies (face side in the copy):")
    print(f"{'copy':<10}" + "".join(f"{label:>26}" for label in detectors))
    for size in (480, 400, 320, 240):
        smaller = settings.with_overrides(detection_size=size)
        photos = load(DATA / "groups", sorted(voc), smaller)
        sides = [(b[2] - b[0]) * p.decoded.detection_scale for p in photos for b in voc[p.name]]
        cells = []
        for detector in detectors.values():
            hits = 0
            for photo in photos:
                kept = [d.box for d in faces(detector, photo, smaller)
                        if d.probability >= settings.min_probability]
                hits += sum(1 for box in voc[photo.name] if any(iou(box, f) >= VOC_IOU for f in kept))
            cells.append(f"{hits}/43")
        print(f"{size} px".ljust(10) + "".join(f"{c:>26}" for c in cells)
              + f"   faces {min(sides):.0f}-{max(sides):.0f} px")

    print(f"\ndetection time on the album's detection copies ({args.repeats} passes of "
          f"{len(sets['album'])} photos):")
    times = {}
    for label, detector in detectors.items():
        median, best = timing(detector, sets["album"], settings, args.repeats)
        times[label] = median
        print(f"{label:<24}{median:8.1f} ms per photo (median), {best:6.1f} best"
              f"  {median / times['mtcnn']:.2f}x MTCNN")

    print(f"\ntwo scan workers at once, {args.threads} thread(s) each (photos per second, median of "
          f"{args.repeats}):")
    for label, detector in detectors.items():
        rates = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda p, d=detector: d.detect(
                    p.decoded.detection, min_face_size=settings.min_face_size * p.decoded.detection_scale),
                    sets["album"]))
            rates.append(len(sets["album"]) / (time.perf_counter() - started))
        print(f"{label:<24}{statistics.median(rates):8.1f} photos/s")

    if args.torch_variants:
        torch_variants(sets["album"], args.repeats)

    reference = found["mtcnn"]["album"]
    keep = settings.min_probability
    print("\nagreement with MTCNN on the album (faces both find at IoU >= 0.5, probability >= "
          f"{keep}):")
    pairs_by: dict[str, list[tuple[Photo, Detection, Detection]]] = {}
    for label in detectors:
        if label == "mtcnn":
            continue
        pairs: list[tuple[Photo, Detection, Detection]] = []
        for photo in sets["album"]:
            ours = [d for d in found[label]["album"][photo.name] if d.probability >= keep]
            theirs = [d for d in reference[photo.name] if d.probability >= keep]
            pairs.extend((photo, a, b) for a, b in matched(theirs, ours))
        pairs_by[label] = pairs
        mean, worst, same = landmark_agreement([(a, b) for _, a, b in pairs])
        ratio_w = np.mean([b.width / a.width for _, a, b in pairs])
        ratio_h = np.mean([b.height / a.height for _, a, b in pairs])
        print(f"{label:<24}{len(pairs)} faces; landmarks {mean:.3f} of the box side apart (worst face "
              f"{worst:.3f}); same order in {same}/{len(pairs)}; box width x{ratio_w:.2f}, "
              f"height x{ratio_h:.2f} of MTCNN's")

    if args.skip_embeddings:
        return
    from faceorganizer.models.embedder import FacenetEmbedder
    from faceorganizer.models.weights import resolve

    embedder = FacenetEmbedder(resolve(), "cpu")

    def embed(photo_boxes: list[tuple[Photo, tuple[float, float, float, float]]]) -> np.ndarray:
        crops = [crops_of(p.data, p.decoded, [box], settings)[0] for p, box in photo_boxes]
        return embedder.embed(np.stack(crops))

    for label, pairs in pairs_by.items():
        ref = embed([(p, a.box) for p, a, _ in pairs])
        other_crops = embed([(p, b.box) for p, _, b in pairs])
        cosine = (ref * other_crops).sum(axis=1)
        print(f"{label:<24}embedding cosine with MTCNN's crop of the same face: mean {cosine.mean():.3f}, "
              f"min {cosine.min():.3f}")

    # The yardstick: MTCNN crops of the same person in different photos, and of different people.
    singles = [(p, reference[p.name][0]) for p in sets["album"]
               if album[p.name][1] == 1 and len([d for d in reference[p.name] if d.probability >= keep]) == 1]
    vectors = embed([(p, d.box) for p, d in singles])
    people = [album[p.name][2][0] for p, _ in singles]
    same_person: list[float] = []
    other_people: list[float] = []
    for i in range(len(singles)):
        for j in range(i + 1, len(singles)):
            bucket = same_person if people[i] == people[j] else other_people
            bucket.append(float(vectors[i] @ vectors[j]))
    print(f"{'yardstick (MTCNN)':<24}same person, different photos: mean cosine "
          f"{np.mean(same_person):.3f} ({len(same_person)} pairs); different people: "
          f"{np.mean(other_people):.3f} ({len(other_people)} pairs)")


if __name__ == "__main__":
    main()
