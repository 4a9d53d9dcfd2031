"""Grouping quality on the evaluation albums, with clustering variants compared offline.

Each album (``benchmarks/grouping_albums.py``: a sub-folder per true person) is scanned
once through the app's own pipeline (``analysis.find_faces``: decode, MTCNN, 160 px
crops; FaceNet embeddings) and cached in the user cache folder: every face's
embedding, size and probability, its photo, and the photo's true person. Crops are
also embedded mirrored and with other margins, to measure those choices without
changing the pipeline. Variants of the clustering are then scored on the cached
embeddings in seconds, exactly as the app groups a library: the faces that pass the
quality gate are clustered, groups of fewer than ``min_faces`` stay unsorted (each
its own label), and each photo's largest face is scored against its folder (BCubed).

    .venv/bin/python benchmarks/grouping_eval.py [--albums /tmp/albums] [--only NAME ...]
        [--variants NAME ...] [--embedding m20|m20flip|m32|m32flip|m44|m44flip]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from faceorganizer.analysis import crops_of, decode, find_faces
from faceorganizer.evaluation.metrics import ClusterScores, score
from faceorganizer.models.base import Models
from faceorganizer.models.loader import load_models
from faceorganizer.models.weights import resolve
from faceorganizer.paths import cache_dir
from faceorganizer.people import clustering
from faceorganizer.people.clustering import ClusterParams, cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.settings import ScanSettings

REPO = Path(__file__).resolve().parents[1]
MARGINS = (20, 32, 44)  # the app's; ~CASIA training's (44 px of 182, centre 160); 44 of 160
DEFAULT_ALBUMS = ("album", "many", "portraits-degraded", "lfw-40x8", "lfw-40x8-b", "lfw-small-jpeg15",
                  "family5", "combo")


@dataclass(frozen=True)
class Album:
    name: str
    photo: np.ndarray  # per face: index of its photo
    size: np.ndarray  # per face: min(width, height) in photo pixels
    probability: np.ndarray
    embeddings: dict[str, np.ndarray]  # "m20", "m20flip", ...: (faces, 512) unit vectors
    truth: np.ndarray  # per photo: true person ("" for photos outside the person folders)

    def largest(self) -> np.ndarray:
        """Index of the largest face of each photo that has faces, in photo order."""
        order = np.lexsort((-self.size, self.photo))
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.photo[order][1:] != self.photo[order][:-1]
        return order[first]


def photos_of(folder: Path) -> list[tuple[str, Path]]:
    out = [("", p) for p in sorted(folder.iterdir()) if p.is_file()]
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        out += [(person.name, p) for p in sorted(person.iterdir()) if p.is_file()]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def scan_album(folder: Path, models: Callable[[], Models]) -> Album:
    """Every face of every photo, through the app's detection and cropping; cached."""
    photos = photos_of(folder)
    key = hashlib.sha256("\n".join(f"{t}/{p.name}:{p.stat().st_size}" for t, p in photos)
                         .encode()).hexdigest()[:12]
    cached = cache_dir() / "grouping-eval" / f"{folder.name}-{resolve().model_id}-{key}.npz"
    if cached.exists():
        data = np.load(cached)
        return Album(folder.name, data["photo"], data["size"], data["probability"],
                     {k[4:]: data[k] for k in data.files if k.startswith("emb_")}, data["truth"])
    started = time.monotonic()
    loaded = models()
    base = ScanSettings()
    photo_of, sizes, probabilities = [], [], []
    crops: dict[int, list[np.ndarray]] = {m: [] for m in MARGINS}
    for index, (_, path) in enumerate(photos):
        data_bytes = path.read_bytes()
        decoded = decode(data_bytes, base)
        found = find_faces(data_bytes, decoded, loaded.detector, base)
        boxes = [f.detection.box for f in found.faces]
        for face in found.faces:
            photo_of.append(index)
            sizes.append(min(face.detection.width, face.detection.height))
            probabilities.append(face.detection.probability)
        for margin in MARGINS:
            if margin == base.margin:
                crops[margin] += [f.crop for f in found.faces]
            else:
                crops[margin] += crops_of(data_bytes, decoded, boxes, ScanSettings(margin=margin))
    embeddings: dict[str, np.ndarray] = {}
    for margin in MARGINS:
        stack = np.stack(crops[margin]) if crops[margin] else np.zeros((0, 160, 160, 3), np.uint8)
        plain = loaded.embedder.embed(stack)
        mirrored = loaded.embedder.embed(np.ascontiguousarray(stack[:, :, ::-1]))
        embeddings[f"m{margin}"] = plain.astype(np.float32)
        embeddings[f"m{margin}flip"] = _unit(plain + mirrored)
    album = Album(folder.name, np.array(photo_of, dtype=np.int64), np.array(sizes),
                  np.array(probabilities), embeddings, np.array([t for t, _ in photos]))
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, photo=album.photo, size=album.size, probability=album.probability,
             truth=album.truth, **{f"emb_{k}": v for k, v in embeddings.items()})
    print(f"  scanned {folder.name}: {len(photos)} photos, {len(photo_of)} faces "
          f"in {time.monotonic() - started:.0f} s")
    return album


Clusterer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Result:
    scores: ClusterScores
    found: int
    true: int


def evaluate(album: Album, clusterer: Clusterer, embedding: str = "m20",
             people: PeopleSettings | None = None) -> Result:
    """Group the album as the app does and score each photo's largest face."""
    people = people or PeopleSettings()
    vectors = album.embeddings[embedding]
    n = len(vectors)
    good = np.flatnonzero((album.size >= people.gate_min_size)
                          & (album.probability >= people.gate_min_probability))
    label = -1 - np.arange(n)  # unsorted: a label of its own
    if len(good):
        groups = clusterer(vectors[good])
        sizes = np.bincount(groups)
        kept = sizes[groups] >= people.min_faces
        label[good[kept]] = groups[kept]
    scored = [i for i in album.largest() if album.truth[album.photo[i]] != ""]
    predicted = [int(label[i]) for i in scored]
    truth = [str(album.truth[album.photo[i]]) for i in scored]
    return Result(score(predicted, truth), found=len({p for p in predicted if p >= 0}),
                  true=len(set(truth)))


def params_variant(params: ClusterParams) -> Clusterer:
    return lambda v: cluster(v, params)


def without_single_face_rule(vectors: np.ndarray) -> np.ndarray:
    """The defaults, but one face attaches as readily as a group (``attach_isolation``)."""
    saved = clustering.SINGLE_FACE_ISOLATION
    clustering.SINGLE_FACE_ISOLATION = 1.0
    try:
        return cluster(vectors)
    finally:
        clustering.SINGLE_FACE_ISOLATION = saved


OLD = ClusterParams(threshold=0.75, merge_threshold=1.0, isolation=0.7, attach_threshold=0)
VARIANTS: dict[str, Clusterer] = {
    "old: 0.75 +isolated<1.0": params_variant(OLD),
    "0.85 +isolated<1.0": params_variant(replace(OLD, threshold=0.85)),
    "0.95 +isolated<1.05": params_variant(replace(OLD, threshold=0.95, merge_threshold=1.05)),
    "1.05 +isolated<1.1": params_variant(replace(OLD, threshold=1.05, merge_threshold=1.1)),
    "new, no single-face rule": without_single_face_rule,
    "0.8 +isolated +attach": params_variant(replace(ClusterParams(), threshold=0.8)),
    "new: 0.75 +isolated +attach": params_variant(ClusterParams()),
    "new, attach<1.1": params_variant(replace(ClusterParams(), attach_threshold=1.1)),
    "new, attach margin 0.3": params_variant(replace(ClusterParams(), attach_margin=0.3)),
    "new, attach margin 0.4": params_variant(replace(ClusterParams(), attach_margin=0.4)),
    "new, attach isolation 0.85": params_variant(replace(ClusterParams(), attach_isolation=0.85)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=Path, default=Path("/tmp/albums"))
    parser.add_argument("--only", nargs="*", default=list(DEFAULT_ALBUMS))
    parser.add_argument("--variants", nargs="*")
    parser.add_argument("--embedding", nargs="*", default=["m20"],
                        help="m20 (the app's crops), m32, m44 (other margins); +flip: averaged "
                             "with the mirrored crop's")
    args = parser.parse_args()
    loaded: list[Models] = []

    def models() -> Models:
        if not loaded:
            loaded.append(load_models("cpu", workers=1))
        return loaded[0]

    albums = []
    for name in args.only:
        folder = args.albums / name
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: run benchmarks/grouping_albums.py first")
        albums.append(scan_album(folder, models))
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants}
    print(f"{'album':<20} {'variant':<28} {'emb':<8} {'P':>6} {'R':>6} {'F':>6}  people found/true")
    for album in albums:
        for embedding in args.embedding:
            for name, clusterer in variants.items():
                r = evaluate(album, clusterer, embedding)
                s = r.scores
                print(f"{album.name:<20} {name:<28} {embedding:<8} {s.bcubed_precision:6.3f} "
                      f"{s.bcubed_recall:6.3f} {s.bcubed_f:6.3f}  {r.found}/{r.true}")


if __name__ == "__main__":
    main()
