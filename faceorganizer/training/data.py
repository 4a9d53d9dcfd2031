"""Labelled face sets for training: a folder per person, or a library's confirmed people.

A *folder per person* is ``DATASET/<person>/<photo>``. Faces are found and cropped
by the app's own pipeline (MTCNN at the scan's settings, the largest face of each
photo, 160 px with the scan's margin), so training sees exactly what a scan embeds;
the crops are cached per photo (path, size and modification time) in the user cache
folder, so a second run starts at once. With ``aligned=True`` the photos are taken
to be face crops already (LFW's aligned images): they are only resized to 160 px.
LFW's ``people.txt`` can limit a folder to the people of some folds.

A library's *confirmed people* are its people with faces the user confirmed (naming
a person confirms its faces); their crops are cut from the photos by the stored boxes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from faceorganizer.errors import FaceorganizerError
from faceorganizer.imaging import ImageError
from faceorganizer.models.base import CROP_SIZE, FaceDetector
from faceorganizer.paths import written_atomically
from faceorganizer.settings import ScanSettings

Progress = Callable[[int, int], None]
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif"}


class DatasetError(FaceorganizerError):
    """A training set cannot be built (missing folder, too few people...)."""


@dataclass
class FaceSet:
    """Face crops with a person label each."""

    crops: np.ndarray                   # (N, 160, 160, 3) uint8 RGB
    labels: np.ndarray                  # (N,) int64, indices into ``people``
    people: list[str]
    sources: list[str]                  # where each crop came from (path, or face id)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.people))

    def trainable_people(self) -> np.ndarray:
        """People with at least two faces: only they give anchor-positive pairs."""
        return np.flatnonzero(self.counts() >= 2)

    def subset(self, keep: np.ndarray) -> FaceSet:
        """The faces where ``keep`` (bool, one per face) is true, people renumbered."""
        index = np.flatnonzero(keep)
        return _compact(list(self.crops[index]), self.labels[index].tolist(), self.people,
                        [self.sources[i] for i in index], self.skipped)

    def only_trainable(self) -> FaceSet:
        """Without the people who have a single face (they give no anchor-positive pair)."""
        return self.subset(np.isin(self.labels, self.trainable_people()))

    @cached_property
    def crop_digests(self) -> list[bytes]:
        """The SHA-256 of each crop's pixels (a face's identity in the trunk cache)."""
        return [hashlib.sha256(crop.tobytes()).digest() for crop in self.crops]

    def fingerprint(self) -> str:
        """Identifies the set's content (for checking a resumed run)."""
        digest = hashlib.sha256()
        for source, label, crop in zip(self.sources, self.labels.tolist(), self.crop_digests, strict=True):
            digest.update(f"{source}\0{self.people[label]}\n".encode() + crop)
        return digest.hexdigest()[:16]

    def summary(self) -> dict[str, int]:
        counts = self.counts()
        return {"faces": len(self), "people": len(self.people),
                "people_with_2_or_more": int((counts >= 2).sum()), "skipped": len(self.skipped)}


def read_lfw_folds(people_file: Path) -> dict[str, int]:
    """Person name -> fold (1-based) from LFW's ``people.txt``."""
    try:
        lines = [line.split() for line in people_file.read_text().splitlines() if line.strip()]
        folds = int(lines[0][0])
        out, i = {}, 1
        for fold in range(1, folds + 1):
            count = int(lines[i][0])
            for name, _ in lines[i + 1:i + 1 + count]:
                out[name] = fold
            i += 1 + count
    except (OSError, ValueError, IndexError) as exc:
        raise DatasetError(f"{people_file} is not an LFW people.txt file: {exc}") from exc
    return out


def parse_folds(spec: str) -> set[int]:
    """``"1-9"``, ``"10"`` or ``"1,3,5-7"`` -> a set of fold numbers."""
    folds: set[int] = set()
    try:
        for part in spec.split(","):
            low, _, high = part.strip().partition("-")
            folds.update(range(int(low), int(high or low) + 1))
    except ValueError as exc:
        raise DatasetError(f"cannot read folds {spec!r}: write them like 1-9 or 1,3,5") from exc
    if not folds:
        raise DatasetError(f"no folds in {spec!r}")
    return folds


def _person_folders(root: Path, people: Iterable[str] | None) -> list[Path]:
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    base = root / "images" if (root / "images").is_dir() and (root / "people.txt").is_file() else root
    folders = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if people is not None:
        wanted = set(people)
        folders = [f for f in folders if f.name in wanted]
    if not folders:
        raise DatasetError(f"{root} has no person folders (expected DATASET/<person>/<photos>)")
    return folders


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES and not p.name.startswith("."))


def _aligned_crop(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((CROP_SIZE, CROP_SIZE), Image.Resampling.BILINEAR))


class CropCache:
    """Detected crops of a folder's photos, keyed by path, size and modification time; a photo
    without a usable face is stored as the reason it was skipped."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, np.ndarray | str] = {}
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    keys, crops, reasons = stored["keys"], stored["crops"], stored["reasons"]
                for key, crop, reason in zip(keys.tolist(), crops, reasons.tolist(), strict=True):
                    self.entries[key] = reason or crop
            except (OSError, ValueError, KeyError):
                self.entries = {}  # a damaged cache is rebuilt
        self.dirty = False

    @staticmethod
    def key(path: Path) -> str:
        stat = path.stat()
        return f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}"

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        blank = np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8)
        values = list(self.entries.values())
        crops = np.stack([blank if isinstance(v, str) else v for v in values] or [blank])[:len(values)]
        reasons = np.array([v if isinstance(v, str) else "" for v in values], dtype=str)
        with written_atomically(self.path) as handle:
            np.savez(handle, keys=np.array(list(self.entries), dtype=str), crops=crops, reasons=reasons)
        self.dirty = False


def largest_face_crop(data: bytes, detector: FaceDetector, settings: ScanSettings) -> np.ndarray | None:
    """The crop of the largest face the scan pipeline finds in a photo, or None."""
    from faceorganizer.analysis import analyze

    faces = analyze(data, detector, settings).faces
    if not faces:
        return None
    return max(faces, key=lambda f: f.detection.width * f.detection.height).crop


def from_folder(root: Path, *, aligned: bool = False, detector: Callable[[], FaceDetector] | None = None,
                settings: ScanSettings | None = None, cache_dir: Path | None = None,
                people: Iterable[str] | None = None, progress: Progress | None = None) -> FaceSet:
    """A face set from ``root/<person>/<photos>``; unreadable or faceless photos are skipped."""
    settings = settings or ScanSettings()
    folders = _person_folders(root, people)
    work = [(index, photo) for index, folder in enumerate(folders) for photo in _photos(folder)]
    cache = None
    if not aligned:
        if detector is None:
            raise DatasetError("detecting faces needs a detector")
        name = hashlib.sha256(f"{root.resolve()}\0{settings}".encode()).hexdigest()[:16]
        cache = CropCache(cache_dir / f"crops-{name}.npz" if cache_dir else None)
    crops, labels, sources, skipped = [], [], [], []
    face_detector = None
    for done, (label, photo) in enumerate(work, 1):
        found: np.ndarray | str
        try:
            if aligned:
                found = _aligned_crop(photo)
            else:
                assert cache is not None and detector is not None
                key = CropCache.key(photo)
                if key in cache.entries:
                    found = cache.entries[key]
                else:
                    face_detector = face_detector or detector()
                    try:
                        crop = largest_face_crop(photo.read_bytes(), face_detector, settings)
                        found = "no face found" if crop is None else crop
                    except (OSError, ImageError) as exc:
                        found = f"cannot read it: {exc}"
                    cache.entries[key] = found
                    cache.dirty = True
        except (OSError, ImageError) as exc:
            found = f"cannot read it: {exc}"
        if isinstance(found, str):
            skipped.append((str(photo), found))
        else:
            crops.append(found)
            labels.append(label)
            sources.append(str(photo.relative_to(root)))
        if progress and (done % 50 == 0 or done == len(work)):
            progress(done, len(work))
        if cache is not None and done % 500 == 0:
            cache.save()
    if cache is not None:
        cache.save()
    return _compact(crops, labels, [f.name for f in folders], sources, skipped)


def _compact(crops: list[np.ndarray], labels: list[int], people: list[str], sources: list[str],
             skipped: list[tuple[str, str]]) -> FaceSet:
    """Drop people left without faces and renumber the labels."""
    used = sorted(set(labels))
    renumber = {old: new for new, old in enumerate(used)}
    stacked = np.stack(crops) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    return FaceSet(crops=stacked, labels=np.array([renumber[x] for x in labels], dtype=np.int64),
                   people=[people[i] for i in used], sources=sources, skipped=skipped)


def from_library(library, settings: ScanSettings | None = None,  # library: store.Library
                 progress: Progress | None = None, people: Iterable[int] | None = None) -> FaceSet:
    """The confirmed faces of the library's people (not hidden-away "not a face" ones)."""
    from sqlalchemy import select

    from faceorganizer.analysis import stored_face_crops
    from faceorganizer.store.schema import Face, Person, Photo
    from faceorganizer.store.states import FaceState, PhotoStatus

    settings = settings or ScanSettings()
    query = (select(Face.id, Face.x1, Face.y1, Face.x2, Face.y2, Face.person_id, Person.name, Photo.path)
             .join(Person, Person.id == Face.person_id).join(Photo, Photo.id == Face.photo_id)
             .where(Face.state == FaceState.CONFIRMED, Face.ignored.is_(False),
                    Photo.status == PhotoStatus.OK)
             .order_by(Photo.path, Face.id))
    if people is not None:
        query = query.where(Face.person_id.in_(list(people)))
    with library.reader() as session:
        rows = session.execute(query).all()
    by_photo: dict[str, list] = {}
    for row in rows:
        by_photo.setdefault(row.path, []).append(row)
    person_ids = sorted({row.person_id for row in rows})
    label_of = {pid: i for i, pid in enumerate(person_ids)}
    names = {row.person_id: row.name or f"person {row.person_id}" for row in rows}
    crops: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    skipped: list[tuple[str, str]] = []
    for done, (path, faces) in enumerate(by_photo.items(), 1):
        try:
            cut = stored_face_crops(path, [(f.x1, f.y1, f.x2, f.y2) for f in faces], settings)
        except (OSError, ImageError) as exc:
            skipped.extend((f"face {f.id} in {path}", f"cannot read the photo: {exc}") for f in faces)
            continue
        for face, crop in zip(faces, cut, strict=True):
            crops.append(crop)
            labels.append(label_of[face.person_id])
            sources.append(f"face {face.id}")
        if progress:
            progress(done, len(by_photo))
    return _compact(crops, labels, [names[p] for p in person_ids], sources, skipped)
