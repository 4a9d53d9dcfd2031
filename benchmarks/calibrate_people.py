"""How the people thresholds were chosen: verification on LFW pairs, clustering on
LFW-built libraries and on the album. Reproduces the README's calibration tables.

1. LFW View 2 (6,000 pairs): the 10-fold protocol's threshold -> ``verify_threshold``.
2. Libraries built from LFW (N people with 4+ photos each, plus M strangers seen once),
   5 random draws each, clustered with several settings: BCubed precision and recall.
   Precision matters most (two people merged is the failure users hate).
3. The album (62 single portraits of 13 people), scanned by the real pipeline: the
   settings must put them into exactly 13 people.

LFW embeddings are cached in the user cache folder (about 5 minutes to make once).

    .venv/bin/python benchmarks/calibrate_people.py
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from faceorganizer.evaluation.lfw import embed_images, evaluate_distances, pair_distances, read_pairs
from faceorganizer.evaluation.metrics import score
from faceorganizer.jobs import scan_and_group
from faceorganizer.models.loader import load_models
from faceorganizer.paths import cache_dir
from faceorganizer.people.clustering import ClusterParams, cluster
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Photo

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
# Steps 1-2 only (attach_threshold 0), as calibrated; then the default with step 3.
SETTINGS = [ClusterParams(t, 0.0, 0.7, attach_threshold=0.0) for t in (0.6, 0.7, 0.75, 0.8, 0.9)] + [
    ClusterParams(t, 1.0, 0.7, attach_threshold=0.0) for t in (0.7, 0.75, 0.8)] + [ClusterParams()]


def label(p: ClusterParams) -> str:
    return (f"t={p.threshold}" + (f" +isolated<{p.merge_threshold}" if p.merge_threshold else "")
            + (f" +attach<{p.attach_threshold}" if p.attach_threshold else ""))


def lfw_embeddings(models) -> tuple[list, np.ndarray]:
    pairs = read_pairs(DATA / "lfw" / "pairs.txt")
    images = pairs.images
    cached = cache_dir() / f"lfw-{models.embedder.space.model_id}.npy"
    if cached.exists():
        vectors = np.load(cached)
    else:
        found = embed_images(DATA / "lfw" / "images", images, models.embedder.embed)
        vectors = np.stack([found[i] for i in images])
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    result = evaluate_distances(pair_distances(pairs, dict(zip(images, vectors, strict=True))), pairs)
    print(f"LFW View 2: accuracy {100 * result.accuracy:.2f}% +- {100 * result.std:.2f}%, "
          f"VAL {100 * result.val:.2f}% at FAR {result.far:.4f}; threshold {result.threshold:.3f}")
    return images, vectors


def lfw_libraries(images: list, vectors: np.ndarray) -> None:
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, (name, _) in enumerate(images):
        by_person[name].append(i)
    regulars = sorted(n for n, v in by_person.items() if len(v) >= 4)
    strangers = sorted(n for n, v in by_person.items() if len(v) == 1)
    print(f"\nLFW-built libraries ({len(regulars)} people with 4+ photos, {len(strangers)} seen once)")
    for people, extra in [(20, 50), (50, 200), (100, 500)]:
        rng = np.random.default_rng(0)
        results = defaultdict(list)
        for _ in range(5):
            chosen = rng.choice(regulars, people, replace=False)
            others = rng.choice(strangers, extra, replace=False)
            rows = [i for n in chosen for i in by_person[n]] + [by_person[n][0] for n in others]
            truth = [images[i][0] for i in rows]
            for params in SETTINGS:
                results[params].append(score(cluster(vectors[rows], params).tolist(), truth))
        for params, scores in results.items():
            p = np.mean([s.bcubed_precision for s in scores])
            r = np.mean([s.bcubed_recall for s in scores])
            print(f"  {people} people + {extra} strangers, {label(params):<22} precision {p:.4f}  "
                  f"recall {r:.4f}")


def album(models) -> None:
    with (DATA / "album.csv").open() as handle:
        truth = {row["file"]: row["identities"] for row in csv.DictReader(handle)}
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "album.sqlite") as library:
        for _ in scan_and_group(library, [DATA / "album"], lambda: models):
            pass
        with library.reader() as session:
            rows = session.execute(Face.__table__.select().join(Photo.__table__)
                                   .with_only_columns(Photo.path, Face.embedding, Face.x1, Face.y1,
                                                      Face.x2, Face.y2)).all()
    largest: dict[str, tuple[float, np.ndarray]] = {}
    for path, embedding, x1, y1, x2, y2 in rows:
        name = os.path.basename(path)
        area = (x2 - x1) * (y2 - y1)
        if ";" not in truth[name] and (name not in largest or area > largest[name][0]):
            largest[name] = (area, embedding)
    names = sorted(largest)
    vectors = np.stack([largest[n][1] for n in names])
    print(f"\nAlbum: {len(names)} portraits of {len({truth[n] for n in names})} people")
    for params in SETTINGS:
        s = score(cluster(vectors, params).tolist(), [truth[n] for n in names])
        print(f"  {label(params):<22} {s.clusters} people, BCubed precision {s.bcubed_precision:.3f} "
              f"F {s.bcubed_f:.3f}")


def unseen(models) -> None:
    """The album as the settings never saw it: greyscale at 480 px or colour at 320 px, each
    identity in its own folder, with 25 photos of strangers mixed in (not scored)."""
    from PIL import Image, ImageOps

    from faceorganizer.evaluation.clusters import evaluate_folder

    with (DATA / "album.csv").open() as handle:
        truth = {row["file"]: row["identities"] for row in csv.DictReader(handle)}
    strangers = [*sorted((DATA / "groups").glob("*.jpg")), *sorted((DATA / "known").glob("*.jpg")),
                 *sorted((DATA / "free").iterdir())]
    print("\nUnseen conditions (album portraits by folder, strangers mixed in):")
    for variant, side, grey in [("greyscale, 480 px", 480, True), ("colour, 320 px", 320, False)]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, who in truth.items():
                if ";" in who:
                    continue
                (root / who).mkdir(exist_ok=True)
                with Image.open(DATA / "album" / name) as image:
                    image = image.convert("RGB")
                    image.thumbnail((side, side))
                    (ImageOps.grayscale(image).convert("RGB") if grey else image).save(root / who / name)
            for source in strangers:
                with Image.open(source) as image:
                    image = image.convert("RGB")
                    image.thumbnail((2 * side, 2 * side))
                    image = ImageOps.grayscale(image).convert("RGB") if grey else image
                    image.save(root / f"stranger_{source.stem}.jpg")
            result = evaluate_folder(root, lambda: models)
            s = result.scores
            print(f"  {variant}: {result.people_found} people found for {result.people_true}; "
                  f"BCubed precision {s.bcubed_precision:.3f}, recall {s.bcubed_recall:.3f}, "
                  f"F {s.bcubed_f:.3f}; pairwise F1 {s.pairwise_f1:.3f}")


def main() -> None:
    models = load_models("cpu", workers=2)
    images, vectors = lfw_embeddings(models)
    lfw_libraries(images, vectors)
    album(models)
    unseen(models)


if __name__ == "__main__":
    main()
