"""Face regions other apps wrote into XMP: read safely, as boxes in the displayed photo.

Two vocabularies (issue 11):

- MWG regions (digiKam, Lightroom, Picasa, Mylio): ``mwg-rs:Regions`` / ``mwg-rs:RegionList``,
  an ``rdf:Bag`` (or ``rdf:Seq``) of regions, each with ``mwg-rs:Area`` (``stArea:x, y, w, h``,
  normalized, **x, y the centre**), ``mwg-rs:Type`` (Face; Pet, Focus and BarCode are not
  faces) and ``mwg-rs:Name``; ``mwg-rs:AppliedToDimensions`` (``stDim:w, h``). Both
  serializations: exiftool's elements (``<stArea:x>0.31</stArea:x>``, ``rdf:parseType=
  'Resource'``) and exiv2/digiKam's attributes (``<rdf:Description mwg-rs:Name=...>``).
- Microsoft Photo regions, only where there is no MWG region: ``MP:RegionInfo`` /
  ``MPRI:Regions``, ``MPReg:Rectangle`` "x, y, w, h" with **x, y the top-left corner**,
  ``MPReg:PersonDisplayName``.

Regions apply to the image as stored (MWG guidelines 2.0, 5.9): :func:`displayed_box` turns
them by the EXIF orientation as the pixels are turned.

Hostile input is expected: the XML is parsed by defusedxml, which refuses DTDs, entity
declarations (so no "billion laughs") and external references (nothing is ever fetched);
documents over ``MAX_BYTES`` and regions beyond ``MAX_REGIONS`` are not read; a region whose
numbers are not finite, fall outside the photo or enclose nothing is left out. Each gives a
warning, never an exception: the photo is still scanned.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

MAX_BYTES = 4 * 1024 * 1024
MAX_REGIONS = 1000
SLACK = 0.01  # coordinates this far outside 0..1 are rounding, and are clipped

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MWG_RS = "http://www.metadataworkinggroup.com/schemas/regions/"
ST_AREA = "http://ns.adobe.com/xmp/sType/Area#"
ST_DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
MP = "http://ns.microsoft.com/photo/1.2/"
MPRI = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
MPREG = "http://ns.microsoft.com/photo/1.2/t/Region#"
TIFF = "http://ns.adobe.com/tiff/1.0/"

NOT_FACES = {"pet", "focus", "barcode"}


@dataclass(frozen=True)
class Region:
    """A face region: ``box`` (x1, y1, x2, y2) normalized to the image as stored, a name or
    None, and where it came from ("mwg" or "mp")."""

    box: tuple[float, float, float, float]
    name: str | None
    source: str


@dataclass
class Regions:
    """What an XMP document says about faces."""

    regions: list[Region] = field(default_factory=list)
    dimensions: tuple[int, int] | None = None  # AppliedToDimensions (w, h), stored pixels
    orientation: int | None = None  # tiff:Orientation, if the document has one
    warnings: list[str] = field(default_factory=list)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _value(node: ElementTree.Element, namespace: str, name: str) -> str | None:
    """A property given as an attribute or as a child element's text."""
    found = node.get(_q(namespace, name))
    if found is not None:
        return found.strip()
    child = node.find(_q(namespace, name))
    if child is not None and child.text is not None:
        return child.text.strip()
    return None


def _resource(node: ElementTree.Element) -> ElementTree.Element:
    """The element holding a resource's properties: an ``rdf:li``/property element itself
    (``rdf:parseType='Resource'`` or attributes), or its ``rdf:Description`` child."""
    description = node.find(_q(RDF, "Description"))
    return description if description is not None else node


def _items(node: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The ``rdf:li`` of an ``rdf:Bag``, ``rdf:Seq`` or ``rdf:Alt`` below ``node``."""
    for container in ("Bag", "Seq", "Alt"):
        for bag in node.iter(_q(RDF, container)):
            yield from bag.findall(_q(RDF, "li"))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _checked(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float] | None:
    """The box clipped to the photo if it is inside it (up to rounding) and encloses something."""
    if min(x1, y1) < -SLACK or max(x2, y2) > 1 + SLACK or x2 - x1 <= 1e-4 or y2 - y1 <= 1e-4:
        return None
    return (max(0.0, x1), max(0.0, y1), min(1.0, x2), min(1.0, y2))


def _mwg(root: ElementTree.Element, found: Regions) -> None:
    for regions in root.iter(_q(MWG_RS, "Regions")):
        holder = _resource(regions)
        dims = holder.find(_q(MWG_RS, "AppliedToDimensions"))
        if dims is not None and found.dimensions is None:
            dims = _resource(dims)
            w, h = _number(_value(dims, ST_DIM, "w")), _number(_value(dims, ST_DIM, "h"))
            if w is not None and h is not None and 0 < w < 1e6 and 0 < h < 1e6:
                found.dimensions = (round(w), round(h))
        region_list = holder.find(_q(MWG_RS, "RegionList"))
        if region_list is None:
            continue
        for item in _items(region_list):
            if len(found.regions) >= MAX_REGIONS:
                found.warnings.append(f"more than {MAX_REGIONS} regions: the rest were not read")
                return
            region = _resource(item)
            kind = (_value(region, MWG_RS, "Type") or "Face").strip()
            if kind.lower() in NOT_FACES:
                continue
            area = region.find(_q(MWG_RS, "Area"))
            if area is None:
                found.warnings.append("a region without an area was left out")
                continue
            area = _resource(area)
            x, y, w, h = (_number(_value(area, ST_AREA, k)) for k in ("x", "y", "w", "h"))
            if x is None or y is None or w is None or h is None:
                found.warnings.append("a region with missing or unreadable coordinates was left out")
                continue
            box = _checked(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            if box is None:
                found.warnings.append(f"a region outside the photo or empty was left out "
                                      f"({x}, {y}, {w}, {h})")
                continue
            found.regions.append(Region(box, _name(_value(region, MWG_RS, "Name")), "mwg"))


def _mp(root: ElementTree.Element, found: Regions) -> None:
    for regions in root.iter(_q(MPRI, "Regions")):
        for item in _items(regions):
            if len(found.regions) >= MAX_REGIONS:
                found.warnings.append(f"more than {MAX_REGIONS} regions: the rest were not read")
                return
            region = _resource(item)
            rectangle = _value(region, MPREG, "Rectangle")
            numbers = [_number(v) for v in rectangle.split(",")] if rectangle else []
            if len(numbers) != 4 or any(v is None for v in numbers):
                found.warnings.append("a region with an unreadable rectangle was left out")
                continue
            x, y, w, h = (float(v) for v in numbers if v is not None)
            box = _checked(x, y, x + w, y + h)
            if box is None:
                found.warnings.append(f"a region outside the photo or empty was left out ({rectangle})")
                continue
            found.regions.append(Region(box, _name(_value(region, MPREG, "PersonDisplayName")), "mp"))


def _name(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.split())[:200]
    return cleaned or None


def parse(data: bytes | str) -> Regions:
    """The face regions of an XMP document (a sidecar, or the packet inside a photo)."""
    found = Regions()
    if len(data) > MAX_BYTES:
        found.warnings.append(f"XMP of {len(data)} bytes is larger than {MAX_BYTES}: not read")
        return found
    try:
        root = SafeTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        found.warnings.append(f"XMP refused: {type(exc).__name__} (entities, DTDs and external "
                              "references are not read)")
        return found
    except (ElementTree.ParseError, ValueError, UnicodeError) as exc:
        found.warnings.append(f"XMP is not well-formed XML: {exc}")
        return found
    orientation = None
    for node in root.iter():
        value = _number(_value(node, TIFF, "Orientation"))
        if value is not None and value in range(1, 9):
            orientation = int(value)
            break
    found.orientation = orientation
    _mwg(root, found)
    if not any(r.source == "mwg" for r in found.regions):
        _mp(root, found)
    return found


def displayed_box(box: tuple[float, float, float, float],
                  orientation: int | None) -> tuple[float, float, float, float]:
    """A normalized box in the stored image, in the image as shown after EXIF ``orientation``
    (1 to 8, as Pillow's ``ImageOps.exif_transpose`` turns the pixels)."""
    x1, y1, x2, y2 = box

    def point(x: float, y: float) -> tuple[float, float]:
        match orientation:
            case 2:
                return 1 - x, y
            case 3:
                return 1 - x, 1 - y
            case 4:
                return x, 1 - y
            case 5:
                return y, x
            case 6:
                return 1 - y, x
            case 7:
                return 1 - y, 1 - x
            case 8:
                return y, 1 - x
            case _:
                return x, y

    (ax, ay), (bx, by) = point(x1, y1), point(x2, y2)
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


def stored_box(box: tuple[float, float, float, float],
               orientation: int | None) -> tuple[float, float, float, float]:
    """The inverse of :func:`displayed_box`: a normalized box in the displayed image, in the
    image as stored (where regions are written)."""
    return displayed_box(box, {6: 8, 8: 6}.get(orientation or 1, orientation))
