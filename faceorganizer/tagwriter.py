"""Writing names back into files, so that they travel with the photos to any other app.

For every photo with named faces (of people not hidden), the MWG face regions and the names as
digiKam and Lightroom keywords go into the sidecar ``NAME.EXT.xmp`` (:mod:`faceorganizer.xmp_write`
keeps everything else in it byte for byte), or with ``embed`` into the photo itself (JPEG, PNG,
TIFF, WebP; a HEIC photo always gets a sidecar). Regions are written in the image as stored:
boxes are turned back by the photo's orientation, and ``AppliedToDimensions`` is the stored
size. A photo whose sidecar changed since the last scan is not written (its new names would be
lost): scan first. After writing, the library records the new sidecar (or the new photo file),
so the next scan does not take our own writing for a change. Every file is written atomically;
a second run changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from sqlalchemy import or_, select

from faceorganizer.imaging import read_info
from faceorganizer.paths import written_atomically
from faceorganizer.sidecars import Sidecar, find, read_sidecar, xmp_orientation
from faceorganizer.store import Library
from faceorganizer.store.roots import under_prefix
from faceorganizer.store.schema import Face, Person, Photo
from faceorganizer.store.states import PhotoStatus
from faceorganizer.xmp import stored_box
from faceorganizer.xmp_packets import can_embed, embed_packet, embedded_packet
from faceorganizer.xmp_write import NamedRegion, XmpWriteError, render


@dataclass
class WriteReport:
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error)

    def as_dict(self) -> dict:
        return {"written": self.written, "unchanged": self.unchanged,
                "failed": [{"path": p, "error": e} for p, e in self.failed]}


@dataclass
class _Target:
    photo_id: int
    path: str
    stored_sidecar: str | None
    names: list[tuple[tuple[float, float, float, float], str]] = field(default_factory=list)


def _targets(library: Library, paths: Sequence[str] | None, photo_ids: Sequence[int] | None) -> list[_Target]:
    """Photos with named faces, and photos with a sidecar (which may hold names written before)."""
    found: dict[int, _Target] = {}
    with library.reader() as session:
        where = [Photo.status == PhotoStatus.OK]
        if paths is not None:
            where.append(or_(*[under_prefix(Photo.path, p) | (Photo.path == p) for p in paths]))
        if photo_ids is not None:
            where.append(Photo.id.in_(list(photo_ids)))
        named = session.execute(
            select(Photo.id, Photo.path, Photo.sidecar, Face.x1, Face.y1, Face.x2, Face.y2, Person.name)
            .join(Face, Face.photo_id == Photo.id).join(Person, Person.id == Face.person_id)
            .where(*where, Face.ignored.is_(False), Person.name.is_not(None), Person.hidden.is_(False))
            .order_by(Photo.path, Face.id))
        for photo_id, path, sidecar, x1, y1, x2, y2, name in named:
            target = found.setdefault(photo_id, _Target(photo_id, path, sidecar))
            target.names.append(((x1, y1, x2, y2), str(name)))
        for photo_id, path, sidecar in session.execute(
                select(Photo.id, Photo.path, Photo.sidecar).where(*where, Photo.sidecar.is_not(None))):
            found.setdefault(photo_id, _Target(photo_id, path, sidecar))
    return sorted(found.values(), key=lambda t: t.path)


def _regions(data: bytes, target: _Target,
             orientation: int | None) -> tuple[list[NamedRegion], tuple[int, int]]:
    """The target's names as regions in the image as stored, and the stored size."""
    with Image.open(io.BytesIO(data)) as image:
        stored = image.size
        info = read_info(image, orientation)
    regions = []
    for (x1, y1, x2, y2), name in target.names:
        shown = (x1 / info.width, y1 / info.height, x2 / info.width, y2 / info.height)
        box = tuple(min(max(v, 0.0), 1.0) for v in stored_box(shown, info.orientation))
        regions.append(NamedRegion(box, name))  # type: ignore[arg-type]
    return regions, stored


def _sidecar_path(photo: str, current: Sidecar | None) -> str:
    """Where the names go: ``NAME.EXT.xmp`` (keeping an existing one's ``.XMP`` spelling)."""
    if current is not None and os.path.basename(current.path).lower() == (
            os.path.basename(photo).lower() + ".xmp"):
        return current.path
    return photo + ".xmp"


def _write_one(library: Library, target: _Target, embed: bool) -> bool:
    """Write one photo's names; whether anything changed. Raises XmpWriteError or OSError."""
    current = find(target.path)
    if (current.key if current else None) != target.stored_sidecar:
        raise XmpWriteError("its sidecar changed since the last scan; scan it first, so that the "
                            "names in it are read before anything is written")
    with open(target.path, "rb") as handle:
        data = handle.read()
    side_content = None
    if current is not None:
        side_content, problem = read_sidecar(current.path)
        if problem is not None:
            raise XmpWriteError(problem)
    packet = embedded_packet(data)
    try:
        regions, stored = _regions(data, target, xmp_orientation(packet, side_content))
    except Exception as exc:
        raise XmpWriteError(f"the photo cannot be read ({exc})") from exc
    if embed and can_embed(target.path):
        content = render(packet, regions, stored)
        if content == packet:
            return False
        embed_packet(target.path, content)
        _record_photo(library, target)
        return True
    path = _sidecar_path(target.path, current)
    existing = side_content if current is not None and path == current.path else None
    if existing is None and not regions:
        return False  # nothing to write, and nothing of ours there
    if existing is None and os.path.lexists(path):
        raise XmpWriteError(f"{os.path.basename(path)} is in the way (not a readable sidecar)")
    try:
        content = render(existing, regions, stored)
    except XmpWriteError:
        if not regions:
            return False  # a sidecar we cannot read, and no names for it: nothing of ours is there
        raise
    if content == existing:
        return False
    with written_atomically(path) as out:
        out.write(content)
    _record_sidecar(library, target)
    return True


def _record_sidecar(library: Library, target: _Target) -> None:
    found = find(target.path)
    with library.session() as session:
        photo = session.get(Photo, target.photo_id)
        if photo is not None:
            photo.sidecar = found.key if found is not None else None


def _record_photo(library: Library, target: _Target) -> None:
    """The photo file now holds our XMP: record its new size, time and hash (its pixels are the
    same), so the next scan does not analyse it again."""
    st = os.stat(target.path)
    digest = hashlib.sha256(Path(target.path).read_bytes()).hexdigest()
    with library.session() as session:
        photo = session.get(Photo, target.photo_id)
        if photo is not None:
            photo.size, photo.mtime_ns, photo.content_hash = st.st_size, st.st_mtime_ns, digest


def write_tags(library: Library, paths: Sequence[str | Path] | None = None, *, embed: bool = False,
               photo_ids: Sequence[int] | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: threading.Event | None = None) -> WriteReport:
    """Write the names of the photos under ``paths`` (files or folders; default: the whole
    library), or of ``photo_ids``, into their files."""
    wanted = None if paths is None else [str(Path(p).expanduser().absolute()) for p in paths]
    targets = _targets(library, wanted, photo_ids)
    report = WriteReport()
    for done, target in enumerate(targets):
        if cancel is not None and cancel.is_set():
            break
        if progress is not None:
            progress(done, len(targets))
        try:
            changed = _write_one(library, target, embed)
        except (XmpWriteError, OSError) as exc:
            message = str(exc) if isinstance(exc, XmpWriteError) else (
                f"cannot write: {exc.strerror or exc}")
            report.failed.append((target.path, message))
            continue
        if changed:
            report.written += 1
        else:
            report.unchanged += 1
    if progress is not None:
        progress(len(targets), len(targets))
    return report



