"""Evaluation albums unlike the calibration data, built reproducibly from ../shared/data.

Each album is a folder with one sub-folder per true person (a stranger seen once has a
folder of one photo); ``faceorganizer evaluate clusters ALBUM`` or
``benchmarks/grouping_eval.py`` scores how grouping finds those people. Photos are
written under the output folder (default /tmp/albums), never into the repository.

Albums (seeds fixed, so every run writes the same photos):

``album``                the album's 62 single portraits of 13 people as they are: the one
                         album the thresholds were calibrated on (must stay 13 people).

``many``                 ../shared/data/many as it is: 8 people with 44-68 greyscale photos
                         and 60 strangers with one.
``portraits-degraded``   the album's 62 single portraits (13 people) and the known/
                         people (5), greyscale, long side 320 px, JPEG quality 15, with
                         60 LFW strangers treated alike.
``lfw-40x8``             40 LFW people x 8 photos + 80 strangers, greyscale (LFW's 112 px
                         aligned crops upscaled to 250 px, the LFW framing, so MTCNN finds
                         and crops them as in a photo).
``lfw-40x8-b``           the same with another draw (seed 1): a hold-out of the above.
``lfw-small-jpeg15``     60 LFW people with 4-7 photos (all of them) + 200 strangers, colour,
                         JPEG quality 15.
``family5``              5 people of ``many`` in 108-150 photos each (every photo 2-3 times,
                         each copy re-framed, rotated, rescaled to 160-350 px, re-lit and
                         JPEG-compressed at quality 12-60, like a family's bursts of
                         photos) + 60 LFW strangers.
``combo``                ``many``'s 8 people, ``portraits-degraded``'s 18 people, 20 LFW people
                         x 6 colour photos and 100 strangers in one library: mixed domains.

    .venv/bin/python benchmarks/grouping_albums.py [--out /tmp/albums] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))
LFW = DATA / "lfw" / "images"
LFW_SIDE = 250  # LFW's own photos are 250x250 with the face in the middle

Transform = Callable[[Image.Image], Image.Image]


def save_jpeg(image: Image.Image, path: Path, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=quality)


def downscale(image: Image.Image, side: int) -> Image.Image:
    image = image.copy()
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def grey(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


def lfw_photo(path: Path) -> Image.Image:
    """An LFW 112 px aligned crop as a 250 px photo (MTCNN finds the face in it)."""
    with Image.open(path) as image:
        return image.convert("RGB").resize((LFW_SIDE, LFW_SIDE), Image.Resampling.BICUBIC)


def lfw_people() -> dict[str, list[Path]]:
    return {d.name: sorted(d.iterdir()) for d in sorted(LFW.iterdir()) if d.is_dir()}


def many_people() -> dict[str, list[Path]]:
    root = DATA / "many"
    return {d.name: sorted(d.iterdir()) for d in sorted(root.iterdir()) if d.is_dir()}


def portraits() -> dict[str, list[Path]]:
    """The album's single portraits and the known/ photos, by person."""
    out: dict[str, list[Path]] = {}
    with (DATA / "album.csv").open() as handle:
        for row in csv.DictReader(handle):
            if ";" not in row["identities"]:
                out.setdefault(row["identities"], []).append(DATA / "album" / row["file"])
    known = DATA / "known"
    for person in sorted((known / "train").iterdir()):
        out.setdefault(person.name, []).extend(sorted(person.iterdir()))
    out["obama"] += [known / n for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama-480p.jpg",
                                         "obama_small.jpg")] + [known / "probe" / "obama1.jpg"]
    out["biden"].append(known / "biden.jpg")
    out["kit_harington"].append(known / "probe" / "johnsnow_test1.jpg")
    out["alex_lacamoire"].append(known / "probe" / "alex_lacamoire1.jpg")
    return out


def strangers(rng: np.random.Generator, count: int, exclude: set[str]) -> list[str]:
    """LFW people seen once in the View 2 set, not among ``exclude``."""
    once = [name for name, files in lfw_people().items() if len(files) == 1 and name not in exclude]
    return sorted(rng.choice(once, count, replace=False).tolist())


def write_lfw(out: Path, names: list[str], per_person: int | None, rng: np.random.Generator,
              transform: Transform, quality: int) -> None:
    people = lfw_people()
    for name in names:
        files = people[name]
        if per_person is not None:
            files = sorted(rng.choice(files, per_person, replace=False).tolist())
        for path in files:
            save_jpeg(transform(lfw_photo(Path(path))), out / name / Path(path).name, quality)


def build_many(out: Path) -> None:
    shutil.copytree(DATA / "many", out, dirs_exist_ok=True)


def build_album(out: Path) -> None:
    """The album's 62 single portraits as they are (the calibration's own check)."""
    for person, files in portraits().items():
        for path in files:
            if path.parent.name == "album":
                (out / person).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, out / person / path.name)


def build_portraits(out: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    degrade: Transform = lambda im: downscale(grey(im), 320)  # noqa: E731
    for person, files in portraits().items():
        for path in files:
            with Image.open(path) as image:
                save_jpeg(degrade(ImageOps.exif_transpose(image).convert("RGB")),
                          out / person / f"{path.parent.name}_{path.stem}.jpg", quality=15)
    write_lfw(out, strangers(rng, 60, set(many_people())), None, rng, degrade, 15)


def lfw_regulars(low: int, high: int, exclude: set[str]) -> list[str]:
    return [n for n, f in lfw_people().items() if low <= len(f) <= high and n not in exclude]


def build_lfw_40x8(out: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    exclude = set(many_people())
    names = sorted(rng.choice(lfw_regulars(8, 99, exclude), 40, replace=False).tolist())
    write_lfw(out, names, 8, rng, grey, 75)
    write_lfw(out, strangers(rng, 80, exclude | set(names)), None, rng, grey, 75)


def build_lfw_small(out: Path, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    exclude = set(many_people())
    names = sorted(rng.choice(lfw_regulars(4, 7, exclude), 60, replace=False).tolist())
    write_lfw(out, names, None, rng, lambda im: im, 15)
    write_lfw(out, strangers(rng, 200, exclude | set(names)), None, rng, lambda im: im, 15)


def burst_copy(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """Another photo of the same moment: re-framed, turned, rescaled, re-lit, recompressed."""
    w, h = image.size
    zoom = rng.uniform(0.75, 1.15)
    cw, ch = w * zoom, h * zoom
    cx = w / 2 + rng.uniform(-0.12, 0.12) * w
    cy = h / 2 + rng.uniform(-0.12, 0.12) * h
    image = image.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR,
                         center=(cx, cy), fillcolor=(128, 128, 128))
    image = image.crop((int(cx - cw / 2), int(cy - ch / 2), int(cx + cw / 2), int(cy + ch / 2)))
    image = downscale(image.resize((max(1, int(cw)), max(1, int(ch)))), int(rng.integers(160, 351)))
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.3)))
    image = ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.7, 1.3)))
    if rng.random() < 0.3:
        image = ImageOps.mirror(image)
    return image, int(rng.integers(12, 61))


def build_family(out: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    people = many_people()
    regulars = sorted(n for n, f in people.items() if len(f) > 1)
    for name in sorted(rng.choice(regulars, 5, replace=False).tolist()):
        files = people[name]
        target = int(rng.integers(108, 151))
        copies = [target // len(files) + (1 if i < target % len(files) else 0) for i in range(len(files))]
        for path, count in zip(files, copies, strict=True):
            with Image.open(path) as image:
                image = image.convert("RGB")
                for c in range(count):
                    photo, quality = burst_copy(image, rng)
                    save_jpeg(photo, out / name / f"{path.stem}_{c}.jpg", quality)
    write_lfw(out, strangers(rng, 60, set(people)), None, rng, grey, 40)


def build_combo(out: Path, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    people = many_people()
    for name, files in people.items():
        if len(files) > 1:
            for path in files:
                (out / name).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, out / name / path.name)
    build_portraits(out, seed)  # its 60 strangers come with it
    exclude = set(people) | {p.parent.name for p in out.glob("*/*")}
    names = sorted(rng.choice(lfw_regulars(6, 99, exclude), 20, replace=False).tolist())
    write_lfw(out, names, 6, rng, lambda im: im, 85)
    write_lfw(out, strangers(rng, 40, exclude | set(names)), None, rng, lambda im: im, 85)


ALBUMS: dict[str, Callable[[Path], None]] = {
    "album": build_album,
    "many": build_many,
    "portraits-degraded": build_portraits,
    "lfw-40x8": build_lfw_40x8,
    "lfw-40x8-b": lambda out: build_lfw_40x8(out, seed=1),
    "lfw-small-jpeg15": build_lfw_small,
    "family5": build_family,
    "combo": build_combo,
}


def album_photos(folder: Path) -> Iterator[tuple[str, Path]]:
    """(true person, photo) for every photo of an album, in a fixed order."""
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir()):
            yield person.name, photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/albums"))
    parser.add_argument("--only", nargs="*", choices=sorted(ALBUMS))
    args = parser.parse_args()
    for name in args.only or ALBUMS:
        target = args.out / name
        if target.exists():
            shutil.rmtree(target)
        ALBUMS[name](target)
        photos = list(album_photos(target))
        sizes = np.bincount(np.unique([p for p, _ in photos], return_inverse=True)[1])
        print(f"{name}: {len(photos)} photos, {len(sizes)} people "
              f"({int((sizes > 1).sum())} with 2+ photos, largest {int(sizes.max())}) -> {target}")


if __name__ == "__main__":
    main()
