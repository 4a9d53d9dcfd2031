"""From a photo's bytes to its faces: decode, detect on a reduced copy, crop at 160 px.

Crops are never cut from the reduced detection copy. Each is cut from a decode
that holds the face at no fewer pixels than the 160 px crop needs (for a large
face, a JPEG's DCT-scaled decode; for a small one, the full-resolution image),
so the crop is always a downscale of the photo's own pixels, never an upscale
of a reduced copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from faceorganizer.boxes import iou
from faceorganizer.imaging import DecodedPhoto, PhotoInfo, decode_at_scale, decode_for_detection
from faceorganizer.models.base import CROP_SIZE, Detection, FaceDetector
from faceorganizer.settings import ScanSettings
from faceorganizer.sidecars import orientation_hint
from faceorganizer.store.states import FaceOrigin
from faceorganizer.xmp import Region, displayed_box

# A face region from a file names the detected face it overlaps at least this much.
REGION_MATCH_IOU = 0.3
# A region smaller than this (pixels, either side) holds too little to be a face of its own.
MIN_REGION_SIDE = 8


@dataclass(frozen=True)
class FoundFace:
    """A face in the photo's displayed pixels, and its 160x160 RGB crop. ``origin`` says where
    its box came from; ``name`` is the name a face region in the photo's XMP gives it."""

    detection: Detection
    crop: np.ndarray
    origin: FaceOrigin = FaceOrigin.DETECTED
    name: str | None = None


@dataclass(frozen=True)
class AnalyzedPhoto:
    info: PhotoInfo
    faces: list[FoundFace]


def crop_box(box: tuple[float, float, float, float], margin: int, width: int,
             height: int) -> tuple[int, int, int, int]:
    """facenet-pytorch's crop: ``margin`` pixels of the 160 px output around the box."""
    x1, y1, x2, y2 = box
    mx = margin * (x2 - x1) / (CROP_SIZE - margin)
    my = margin * (y2 - y1) / (CROP_SIZE - margin)
    return (int(max(x1 - mx / 2, 0)), int(max(y1 - my / 2, 0)),
            int(min(x2 + mx / 2, width)), int(min(y2 + my / 2, height)))


def cut(source: Image.Image, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """The crop ``box`` (photo pixels) from ``source`` (``scale`` px per photo px), 160x160."""
    region = tuple(int(round(v * scale)) for v in box)
    x1, y1, x2, y2 = region
    if x2 <= x1 or y2 <= y1:
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    face = source.crop((x1, y1, x2, y2)).resize((CROP_SIZE, CROP_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(face, dtype=np.uint8)


def decode(data: bytes, settings: ScanSettings, fallback_orientation: int | None = None) -> DecodedPhoto:
    """Decode a photo for detection (no models needed). Raises ImageError.
    ``fallback_orientation`` (from XMP) counts where the photo's EXIF has none."""
    return decode_for_detection(data, detection_size=settings.detection_size,
                                max_megapixels=settings.max_megapixels,
                                fallback_orientation=fallback_orientation)


def find_faces(data: bytes, decoded: DecodedPhoto, detector: FaceDetector,
               settings: ScanSettings) -> AnalyzedPhoto:
    """Detect the faces of a decoded photo and crop them at 160 px."""
    info = decoded.info
    to_photo = 1.0 / decoded.detection_scale
    detections = [
        d.scaled(to_photo)
        for d in detector.detect(decoded.detection,
                                 min_face_size=settings.min_face_size * decoded.detection_scale)
    ]
    detections = [d for d in detections
                  if d.probability >= settings.min_probability
                  and min(d.width, d.height) >= settings.min_face_size]
    if not detections:
        return AnalyzedPhoto(info=info, faces=[])

    crops = crops_of(data, decoded, [d.box for d in detections], settings)
    faces = [FoundFace(detection=d, crop=c) for d, c in zip(detections, crops, strict=True)]
    return AnalyzedPhoto(info=info, faces=faces)


def crops_of(data: bytes, decoded: DecodedPhoto, boxes: list[tuple[float, float, float, float]],
             settings: ScanSettings) -> list[np.ndarray]:
    """The 160x160 crops (with the margin) of face ``boxes`` given in photo pixels."""
    if not boxes:
        return []
    info = decoded.info
    regions = [crop_box(b, settings.margin, info.width, info.height) for b in boxes]
    smallest = min(min(r[2] - r[0], r[3] - r[1]) for r in regions)
    needed = min(1.0, CROP_SIZE / max(smallest, 1))
    source, scale = decoded.source, decoded.source_scale
    if scale < needed * 0.999:
        source, scale = decode_at_scale(data, info, needed, settings.max_megapixels)
    return [cut(source, scale, r) for r in regions]


def region_boxes(regions: Sequence[Region], info: PhotoInfo) -> list[tuple[float, float, float, float]]:
    """Regions (normalized, image as stored) as boxes in the displayed photo's pixels."""
    boxes = []
    for region in regions:
        x1, y1, x2, y2 = displayed_box(region.box, info.orientation)
        boxes.append((x1 * info.width, y1 * info.height, x2 * info.width, y2 * info.height))
    return boxes


def add_regions(data: bytes, decoded: DecodedPhoto, photo: AnalyzedPhoto, regions: Sequence[Region],
                settings: ScanSettings) -> AnalyzedPhoto:
    """The photo's faces with its XMP face regions: a region that overlaps a detected face
    (IoU >= ``REGION_MATCH_IOU``, best overlaps first) gives it its name; any other becomes a
    face of its own (a profile, a small or odd face the detector missed), cut from its box,
    unless it is under ``MIN_REGION_SIDE`` pixels."""
    if not regions:
        return photo
    boxes = region_boxes(regions, decoded.info)
    faces = list(photo.faces)
    pairs = sorted(((iou(box, face.detection.box), i, j) for i, box in enumerate(boxes)
                    for j, face in enumerate(faces)), reverse=True)
    matched: dict[int, int] = {}  # region -> face
    taken: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < REGION_MATCH_IOU:
            break
        if i not in matched and j not in taken:
            matched[i], taken = j, taken | {j}
    for i, j in matched.items():
        if regions[i].name is not None:
            faces[j] = replace(faces[j], name=regions[i].name)
    alone = [i for i in range(len(regions)) if i not in matched
             and min(boxes[i][2] - boxes[i][0], boxes[i][3] - boxes[i][1]) >= MIN_REGION_SIDE]
    crops = crops_of(data, decoded, [boxes[i] for i in alone], settings)
    for i, crop in zip(alone, crops, strict=True):
        faces.append(FoundFace(Detection(boxes[i], (), 1.0), crop, FaceOrigin.FILE, regions[i].name))
    return AnalyzedPhoto(info=photo.info, faces=faces)


def analyze(data: bytes, detector: FaceDetector, settings: ScanSettings) -> AnalyzedPhoto:
    """Find the faces in a photo. Raises :class:`~faceorganizer.imaging.ImageError`."""
    return find_faces(data, decode(data, settings), detector, settings)


def stored_face_crops(path: str | Path, boxes: list[tuple[float, float, float, float]],
                      settings: ScanSettings) -> list[np.ndarray]:
    """The crops of faces already in the library (boxes in photo pixels), cut again from the
    photo file. Raises OSError or :class:`~faceorganizer.imaging.ImageError`."""
    data = Path(path).read_bytes()
    return crops_of(data, decode(data, settings, orientation_hint(data, path)), boxes, settings)
