"""XMP sidecars and what a photo's files say about its faces.

A sidecar is ``NAME.EXT.xmp`` (digiKam's and darktable's naming, the one faceorganizer writes)
or ``NAME.xmp`` (Lightroom's); the first wins where both exist, and either may be spelt
``.XMP``. Its *key* (name, size and modification time) is stored with the photo, so a sidecar
created or edited while its photo is unchanged is read again by the next scan.

:func:`file_regions` gathers the face regions of a photo: those of its sidecar where the
sidecar has any, else those embedded in the photo (the sidecar wins), and the orientation to
use when the photo's EXIF has none (the photo's own XMP first, then the sidecar's). Nothing
here raises on bad input: a sidecar that is a folder, unreadable, too large or malformed
gives a warning, and the photo is scanned as if it had none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from faceorganizer import xmp
from faceorganizer.xmp_packets import embedded_packet

SUFFIXES = (".xmp", ".XMP")


@dataclass(frozen=True)
class Sidecar:
    path: str
    key: str  # changes whenever the sidecar does: "name size mtime_ns" ("name folder" for a folder)


def sidecar_names(photo_name: str) -> tuple[str, str]:
    """The two names a sidecar of ``photo_name`` may have, lower-case, the preferred first."""
    lower = photo_name.lower()
    return lower + ".xmp", os.path.splitext(lower)[0] + ".xmp"


def key_of(name: str, st: os.stat_result | None) -> str:
    if st is None:
        return f"{name} folder"
    return f"{name} {st.st_size} {st.st_mtime_ns}"


def find(photo_path: str | Path) -> Sidecar | None:
    """The sidecar of a photo, looked up directly (the scan's walk finds them from its listing)."""
    photo = Path(photo_path)
    stem = photo.stem
    for base in (photo.name, stem):
        for suffix in SUFFIXES:
            candidate = photo.with_name(base + suffix)
            try:
                st = candidate.stat()
            except OSError:
                continue
            is_dir = candidate.is_dir()
            return Sidecar(str(candidate), key_of(candidate.name, None if is_dir else st))
    return None


def read_sidecar(path: str) -> tuple[bytes | None, str | None]:
    """(content, None) or (None, why it could not be read)."""
    name = os.path.basename(path)
    try:
        if os.path.isdir(path):
            return None, f"the sidecar {name} is a folder, not a file"
        with open(path, "rb") as handle:
            data = handle.read(xmp.MAX_BYTES + 1)
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        return None, f"the sidecar {name} cannot be read ({reason})"
    if len(data) > xmp.MAX_BYTES:
        return None, f"the sidecar {name} is over {xmp.MAX_BYTES // 2**20} MB, too large to be XMP"
    return data, None


@dataclass
class FileRegions:
    """Face regions from a photo's files, normalized to the image as stored."""

    regions: list[xmp.Region] = field(default_factory=list)
    orientation: int | None = None  # for when the photo's EXIF has none
    warnings: list[str] = field(default_factory=list)


def file_regions(data: bytes, sidecar: str | None) -> FileRegions:
    """The face regions of a photo (its bytes) and its sidecar (a path, or None). Never raises."""
    found = FileRegions()
    embedded = xmp.Regions()
    packet = embedded_packet(data)
    if packet is not None:
        embedded = xmp.parse(packet)
        found.warnings.extend(f"XMP in the photo: {w}" for w in embedded.warnings)
    side = xmp.Regions()
    if sidecar is not None:
        content, problem = read_sidecar(sidecar)
        if problem is not None:
            found.warnings.append(problem)
        elif content is not None:
            side = xmp.parse(content)
            name = os.path.basename(sidecar)
            found.warnings.extend(f"sidecar {name}: {w}" for w in side.warnings)
    found.regions = side.regions or embedded.regions
    found.orientation = embedded.orientation or side.orientation
    return found


def xmp_orientation(packet: bytes | None, sidecar: bytes | None) -> int | None:
    """The orientation the photo's own XMP gives, else its sidecar's (None if neither does)."""
    for document in (packet, sidecar):
        if document is not None:
            orientation = xmp.parse(document).orientation
            if orientation is not None:
                return orientation
    return None


def orientation_hint(data: bytes, photo_path: str | Path) -> int | None:
    """The orientation a photo's XMP gives (its own, then its sidecar's), for where its EXIF has
    none: the scan turns pixels and boxes by it, so every later decode must too."""
    own = xmp_orientation(embedded_packet(data), None)
    if own is not None:
        return own  # no need to look for a sidecar
    found = find(photo_path)
    return xmp_orientation(None, read_sidecar(found.path)[0]) if found is not None else None
