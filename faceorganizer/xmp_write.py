"""Face names written into an XMP document (a sidecar, or the packet inside a photo), leaving
everything else in it as it was, byte for byte.

Other apps own most of what an XMP document says (ratings, captions, their own keywords and
regions), and a user who lets this app name faces must not lose any of it, nor see it
reformatted. So the document is never rebuilt from a DOM (ElementTree would rename prefixes,
change quotes and reorder attributes): it is parsed with expat only to learn where each element
starts and ends in the bytes, and the few spans this app owns are cut out or spliced in.

What is written (digiKam, Lightroom, exiftool and the MWG guidelines read it):

- MWG face regions: ``mwg-rs:Regions`` with ``mwg-rs:AppliedToDimensions`` (the stored image in
  pixels) and an ``mwg-rs:RegionList`` bag of ``Type=Face`` regions, each with ``mwg-rs:Name``
  and a normalized ``mwg-rs:Area`` whose x, y are **the centre** of the box.
- The names as keywords: ``digiKam:TagsList`` (``People/Name``) and ``lr:hierarchicalSubject``
  (``People|Name``), one per distinct name, sorted, and never twice.

What this app wrote is marked so that the next write replaces exactly that and nothing else:
each of its regions carries ``faceorganizer:Managed="True"``, and the keywords it added (not
those that were already there) are listed in ``faceorganizer:TagsList`` and
``faceorganizer:HierarchicalSubject``. A face region of another app is kept unless it is the
same face as one being written (IoU >= ``SAME_FACE_IOU``): the new, named one replaces it.
Regions that are not faces (Pet, Focus, BarCode), Microsoft's regions and other keywords are
never touched. Writing no regions removes what this app wrote, and what it created to hold it
(an emptied ``mwg-rs:Regions``, keyword list or ``rdf:Description``) goes with it. Which app
created such a holder is not recorded, so one of another app's that this app emptied (its only
entries were this app's, or faces this app named over) goes too: it said nothing any more.

Writing is deterministic and idempotent: the output of :func:`render`, given to it again with
the same regions, comes back unchanged. A document this module cannot read with certainty (not
well-formed, a DTD or entity declarations, over ``MAX_BYTES``, no ``rdf:RDF``, a property in a
form it does not know) raises :class:`XmpWriteError` and is left alone: overwriting what is not
understood would lose someone's data.
"""

from __future__ import annotations

import math
import re
import xml.parsers.expat as expat
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faceorganizer.boxes import iou
from faceorganizer.xmp import MAX_BYTES, MWG_RS, NOT_FACES, RDF, ST_AREA, ST_DIM, _number

OURS = "http://ns.faceorganizer.app/1.0/"
DIGIKAM = "http://www.digikam.org/ns/1.0/"
LIGHTROOM = "http://ns.adobe.com/lightroom/1.0/"
XMP_META = "adobe:ns:meta/"

# The prefixes this module writes, where the document has none bound to the namespace already.
PREFIXES = {RDF: "rdf", MWG_RS: "mwg-rs", ST_AREA: "stArea", ST_DIM: "stDim", OURS: "faceorganizer",
            DIGIKAM: "digiKam", LIGHTROOM: "lr"}

SAME_FACE_IOU = 0.3  # a foreign face region overlapping a written one this much is the same face
MAX_DEPTH = 100  # XMP nests a dozen levels deep; more is not a photo's metadata
MAX_ELEMENTS = 200_000  # a 4 MB document of real properties has well under this

# A new sidecar: the empty document :func:`render` fills (so both paths share one code path).
SKELETON = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="{XMP_META}">\n'
            f' <rdf:RDF xmlns:rdf="{RDF}">\n'
            ' </rdf:RDF>\n'
            '</x:xmpmeta>\n'
            '<?xpacket end="w"?>\n').encode()

# A start tag of a document expat has found well-formed: the name, attributes quoted either way
# (a quoted value may hold '>'), and whether it closes itself.
_START_TAG = re.compile(rb"""<([^\s/>]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")
_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = b" \t\r\n"


class XmpWriteError(Exception):
    """The XMP could not be written; ``str()`` is a plain-words reason for the user."""


@dataclass(frozen=True)
class NamedRegion:
    """A face to write: ``box`` (x1, y1, x2, y2) normalized 0..1 in the image as stored. A blank
    ``name`` writes a face region without a name, and no keyword."""

    box: tuple[float, float, float, float]
    name: str


@dataclass(frozen=True)
class _Face:
    box: tuple[float, float, float, float]
    name: str


class _Element:
    """An element of the parsed document and where it lies in the bytes: ``start`` ('<'),
    ``open_end`` (after the start tag's '>'), ``close`` (the end tag's '<'), ``end`` (after it)."""

    __slots__ = ("attrs", "children", "close", "decls", "empty", "end", "local", "open_end", "parent",
                 "start", "texts", "uri")

    def __init__(self, uri: str, local: str, attrs: dict[tuple[str, str], str], decls: dict[str, str],
                 parent: _Element | None, start: int, open_end: int, empty: bool) -> None:
        self.uri, self.local, self.attrs, self.decls = uri, local, attrs, decls
        self.parent, self.start, self.open_end, self.empty = parent, start, open_end, empty
        self.close = self.end = open_end
        self.children: list[_Element] = []
        self.texts: list[str] = []

    def is_(self, uri: str, local: str) -> bool:
        return self.uri == uri and self.local == local

    def child(self, uri: str, local: str) -> _Element | None:
        return next((c for c in self.children if c.is_(uri, local)), None)

    def text(self) -> str:
        return "".join(self.texts).strip()

    def value(self, uri: str, local: str) -> str | None:
        """A property given as an attribute or as a child element's text."""
        found = self.attrs.get((uri, local))
        if found is not None:
            return found.strip()
        child = self.child(uri, local)
        return child.text() if child is not None else None

    def resource(self) -> _Element:
        """The element holding a resource's fields: its ``rdf:Description`` child, or itself
        (``rdf:parseType='Resource'`` or fields as attributes)."""
        return self.child(RDF, "Description") or self

    def scope(self) -> dict[str, str]:
        """The namespace prefixes bound inside this element."""
        chain: list[_Element] = []
        node: _Element | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        scope: dict[str, str] = {}
        for node in reversed(chain):
            scope.update(node.decls)
        return scope


def _split(name: str) -> tuple[str, str]:
    uri, _, local = name.rpartition(" ")
    return uri, local


def _parse(data: bytes) -> _Element:
    """The document's elements with their byte spans. Refuses DTDs and entities (so no
    "billion laughs" and nothing fetched), deep nesting and floods of elements."""
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    document = _Element("", "", {}, {"xml": "http://www.w3.org/XML/1998/namespace"}, None, 0, 0, False)
    document.end = len(data)
    stack = [document]
    pending: dict[str, str] = {}
    count = 0

    def refuse(*_: object) -> int:
        raise XmpWriteError("the XMP declares a DTD or entities, which this app does not read")

    def declare(prefix: str | None, uri: str | None) -> None:
        pending[prefix or ""] = uri or ""

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal count, pending
        count += 1
        if count > MAX_ELEMENTS or len(stack) > MAX_DEPTH:
            raise XmpWriteError("the XMP is too large or too deeply nested to be metadata")
        position = parser.CurrentByteIndex
        tag = _START_TAG.match(data, position)
        if tag is None:  # expat accepted it, so this is a bug here: refuse rather than guess
            raise XmpWriteError(f"the XMP could not be read near byte {position}")
        parent = stack[-1]
        element = _Element(*_split(name), {_split(k): v for k, v in attributes.items()}, pending,
                           parent, position, tag.end(), tag.group(2) == b"/")
        pending = {}
        parent.children.append(element)
        stack.append(element)

    def end(_: str) -> None:
        element = stack.pop()
        if not element.empty:
            element.close = parser.CurrentByteIndex
            element.end = data.find(b">", element.close) + 1

    def characters(text: str) -> None:
        stack[-1].texts.append(text)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartNamespaceDeclHandler = declare
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmpWriteError(f"the XMP is not well-formed XML ({exc})") from exc
    return document


def _find(document: _Element, uri: str, local: str) -> _Element | None:
    queue = deque([document])
    while queue:
        node = queue.popleft()
        if node.is_(uri, local):
            return node
        queue.extend(node.children)
    return None


# Writing ---------------------------------------------------------------------------------------

def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _number_text(value: float) -> str:
    return f"{value:.6f}"


def _deeper(sep: str) -> str:
    return sep + " " if "\n" in sep else sep


class _Names:
    """Prefixes for ``uris`` at a place whose bindings are ``scope``: the document's own where it
    binds the namespace, else this module's, declared on the element being written."""

    def __init__(self, scope: dict[str, str], uris: Sequence[str]) -> None:
        self.prefix: dict[str, str] = {}
        for uri in uris:
            preferred = PREFIXES[uri]
            if scope.get(preferred) == uri:
                self.prefix[uri] = preferred
            else:
                bound = sorted(p for p, u in scope.items() if u == uri and p)
                if bound:
                    self.prefix[uri] = bound[0]
        self.declared: dict[str, str] = {}
        for uri in uris:
            if uri in self.prefix:
                continue
            prefix, n = PREFIXES[uri], 1
            while prefix in self.prefix.values():
                prefix, n = f"{PREFIXES[uri]}{n}", n + 1
            self.prefix[uri] = prefix
            self.declared[prefix] = uri
        self.inner = {**scope, **self.declared}

    def __call__(self, uri: str, local: str) -> str:
        return f"{self.prefix[uri]}:{local}"

    def declarations(self) -> str:
        return "".join(f' xmlns:{prefix}="{_attr(uri)}"' for prefix, uri in self.declared.items())


@dataclass(frozen=True)
class _Fragment:
    """XML to splice in: ``build(scope, sep)`` writes it for a place where ``scope`` is bound and
    whose lines start with ``sep``; ``uris`` are the namespaces it uses."""

    uris: tuple[str, ...]
    build: Callable[[dict[str, str], str], str]


def _region_item(face: _Face) -> _Fragment:
    def build(scope: dict[str, str], _: str) -> str:
        q = _Names(scope, (RDF, MWG_RS, ST_AREA, OURS))
        x1, y1, x2, y2 = face.box
        numbers = {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2, "w": x2 - x1, "h": y2 - y1}
        area = " ".join(f'{q(ST_AREA, k)}="{_number_text(v)}"' for k, v in numbers.items())
        name = f' {q(MWG_RS, "Name")}="{_attr(face.name)}"' if face.name else ""
        return (f'<{q(RDF, "li")}{q.declarations()}><{q(RDF, "Description")} {q(OURS, "Managed")}="True" '
                f'{q(MWG_RS, "Type")}="Face"{name}><{q(MWG_RS, "Area")} {area} {q(ST_AREA, "unit")}='
                f'"normalized"/></{q(RDF, "Description")}></{q(RDF, "li")}>')
    return _Fragment((RDF, MWG_RS, ST_AREA, OURS), build)


def _dimensions(width: int, height: int) -> _Fragment:
    def build(scope: dict[str, str], _: str) -> str:
        q = _Names(scope, (MWG_RS, ST_DIM))
        return (f'<{q(MWG_RS, "AppliedToDimensions")}{q.declarations()} {q(ST_DIM, "w")}="{width}" '
                f'{q(ST_DIM, "h")}="{height}" {q(ST_DIM, "unit")}="pixel"/>')
    return _Fragment((MWG_RS, ST_DIM), build)


def _region_list(faces: Sequence[_Face]) -> _Fragment:
    def build(scope: dict[str, str], sep: str) -> str:
        q = _Names(scope, (RDF, MWG_RS))
        inner, items = _deeper(sep), _deeper(_deeper(sep))
        listed = "".join(items + _region_item(face).build(q.inner, items) for face in faces)
        return (f'<{q(MWG_RS, "RegionList")}{q.declarations()}>{inner}<{q(RDF, "Bag")}>{listed}{inner}'
                f'</{q(RDF, "Bag")}>{sep}</{q(MWG_RS, "RegionList")}>')
    return _Fragment((RDF, MWG_RS, ST_AREA, OURS), build)


def _regions(faces: Sequence[_Face], width: int, height: int) -> _Fragment:
    uris = (RDF, MWG_RS, ST_DIM, ST_AREA, OURS)

    def build(scope: dict[str, str], sep: str) -> str:
        q = _Names(scope, uris)
        inner = _deeper(sep)
        return (f'<{q(MWG_RS, "Regions")} {q(RDF, "parseType")}="Resource"{q.declarations()}>'
                f'{inner}{_dimensions(width, height).build(q.inner, inner)}'
                f'{inner}{_region_list(faces).build(q.inner, inner)}{sep}</{q(MWG_RS, "Regions")}>')
    return _Fragment(uris, build)


def _keyword_item(value: str) -> _Fragment:
    def build(scope: dict[str, str], _: str) -> str:
        q = _Names(scope, (RDF,))
        return f'<{q(RDF, "li")}{q.declarations()}>{_text(value)}</{q(RDF, "li")}>'
    return _Fragment((RDF,), build)


def _array(uri: str, local: str, kind: str, values: Sequence[str]) -> _Fragment:
    def build(scope: dict[str, str], sep: str) -> str:
        q = _Names(scope, (RDF, uri))
        inner, items = _deeper(sep), _deeper(_deeper(sep))
        listed = "".join(items + _keyword_item(v).build(q.inner, items) for v in values)
        return (f'<{q(uri, local)}{q.declarations()}>{inner}<{q(RDF, kind)}>{listed}{inner}'
                f'</{q(RDF, kind)}>{sep}</{q(uri, local)}>')
    return _Fragment((RDF, uri), build)


def _description(about: str, properties: Sequence[_Fragment]) -> _Fragment:
    uris = tuple(u for u in PREFIXES if any(u in p.uris for p in properties))

    def build(scope: dict[str, str], sep: str) -> str:
        q = _Names(scope, uris)
        inner = _deeper(sep)
        listed = "".join(inner + p.build(q.inner, inner) for p in properties)
        return (f'<{q(RDF, "Description")} {q(RDF, "about")}="{_attr(about)}"{q.declarations()}>'
                f'{listed}{sep}</{q(RDF, "Description")}>')
    return _Fragment(uris, build)


# The edit ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Keywords:
    uri: str
    local: str
    kind: str  # the array: digiKam's TagsList is a Seq, Lightroom's hierarchicalSubject a Bag
    separator: str
    record: str  # our property listing the entries this app added


KEYWORDS = (_Keywords(DIGIKAM, "TagsList", "Seq", "/", "TagsList"),
            _Keywords(LIGHTROOM, "hierarchicalSubject", "Bag", "|", "HierarchicalSubject"))


def _area(item: _Element) -> tuple[float, float, float, float] | None:
    area = item.resource().child(MWG_RS, "Area")
    if area is None:
        return None
    area = area.resource()
    x, y, w, h = (_number(area.value(ST_AREA, k)) for k in ("x", "y", "w", "h"))
    if x is None or y is None or w is None or h is None:
        return None
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def _is_ours(item: _Element) -> bool:
    return item.resource().value(OURS, "Managed") is not None


def _is_face(item: _Element) -> bool:
    return (item.resource().value(MWG_RS, "Type") or "Face").lower() not in NOT_FACES


def _same_dimensions(element: _Element, width: int, height: int) -> bool:
    """Whether an ``AppliedToDimensions`` already says (width, height) pixels (then it is kept as
    it is written)."""
    dims = element.resource()
    unit = dims.value(ST_DIM, "unit")
    return (_number(dims.value(ST_DIM, "w")) == width and _number(dims.value(ST_DIM, "h")) == height
            and unit in (None, "pixel"))


def _same_face(item: _Element, faces: Sequence[_Face]) -> bool:
    """Whether a region of another app is the face of one being written."""
    if not _is_face(item):
        return False
    box = _area(item)
    return box is not None and any(iou(box, f.box) >= SAME_FACE_IOU for f in faces)


def _others(items: Sequence[_Element], doomed: Sequence[_Element]) -> list[_Element]:
    gone = {id(i) for i in doomed}
    return [i for i in items if id(i) not in gone]


class _Edit:
    """The splices into one document, made from its parse."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.document = _parse(data)
        rdf = _find(self.document, RDF, "RDF")
        if rdf is None:
            raise XmpWriteError("the file is XML but not XMP (it has no rdf:RDF)")
        self.rdf = rdf
        self.descriptions = [c for c in rdf.children if c.is_(RDF, "Description")]
        self.splices: list[tuple[int, int, bytes]] = []
        self.deleted: dict[int, _Element] = {}  # top-level properties removed whole, by id
        self.missing: list[_Fragment] = []  # properties no description has yet

    def properties(self, uri: str, local: str) -> list[_Element]:
        return [p for d in self.descriptions for p in d.children if p.is_(uri, local)]

    def line_sep(self, element: _Element, floor: int = 0) -> str:
        """The whitespace before ``element`` (after ``floor``) from its last line break on: what
        this module writes before an element it puts there."""
        start = max(self.whitespace_start(element), floor)
        run = self.data[start:element.start].decode()
        newline = run.rfind("\n")
        if newline < 0:
            return run
        return ("\r" if run[newline - 1:newline] == "\r" else "") + run[newline:]

    def whitespace_start(self, element: _Element) -> int:
        start = element.start
        while start > 0 and self.data[start - 1] in _WHITESPACE:
            start -= 1
        return start

    def child_sep(self, element: _Element) -> str:
        """What goes before a child of ``element``: what its first child has before it, or one
        space more than ``element``'s own indentation."""
        if element.children:
            return self.line_sep(element.children[0], element.open_end)
        return _deeper(self.line_sep(element))

    def delete(self, element: _Element) -> None:
        """Remove ``element`` and the whitespace before it."""
        self.splices.append((self.whitespace_start(element), element.end, b""))

    def replace(self, element: _Element, fragment: _Fragment) -> None:
        text = fragment.build(element.parent.scope() if element.parent else {}, self.line_sep(element))
        self.splices.append((element.start, element.end, text.encode()))

    def add(self, element: _Element, first: Sequence[_Fragment], last: Sequence[_Fragment],
            after: _Element | bool | None = True) -> None:
        """``first`` as the first children of ``element``, ``last`` after the child ``after``
        (True: the last child; None: the start)."""
        if not first and not last:
            return
        scope, sep = element.scope(), self.child_sep(element)
        if element.empty:
            tag = _START_TAG.match(self.data, element.start)
            assert tag is not None
            opened = self.data[element.start:element.open_end].decode()[:-2].rstrip() + ">"
            body = "".join(sep + f.build(scope, sep) for f in (*first, *last))
            closed = f"</{tag.group(1).decode()}>"
            self.splices.append((element.start, element.end,
                                 (opened + body + self.line_sep(element) + closed).encode()))
            return
        if first:
            body = "".join(sep + f.build(scope, sep) for f in first)
            self.splices.append((element.open_end, element.open_end, body.encode()))
        if last:
            if after is True:
                after = element.children[-1] if element.children else None
            position = after.end if isinstance(after, _Element) else element.open_end
            body = "".join(sep + f.build(scope, sep) for f in last)
            self.splices.append((position, position, body.encode()))

    def container(self, holder: _Element) -> _Element | None:
        """The ``rdf:Bag``/``Seq``/``Alt`` of an array property, or None if it is empty."""
        arrays = [c for c in holder.children if c.uri == RDF and c.local in ("Bag", "Seq", "Alt")]
        if len(arrays) == 1 and len(holder.children) == 1 and not holder.text():
            return arrays[0]
        if not holder.children and not holder.text() and not any(k[0] != RDF for k in holder.attrs):
            return None
        raise XmpWriteError(f"the XMP's {holder.local} is written in a form this app does not read, "
                            "so it is left as it is")

    def drop(self, prop: _Element) -> None:
        """Remove a whole top-level property (its description may go with it, see ``finish``)."""
        self.deleted[id(prop)] = prop

    def regions(self, faces: Sequence[_Face], width: int, height: int) -> None:
        props = self.properties(MWG_RS, "Regions")
        if not props and faces:
            self.missing.append(_regions(faces, width, height))
        for n, prop in enumerate(props):
            holder = prop.resource()
            if prop.text() or (holder is not prop and (len(prop.children) != 1 or holder.text())):
                raise XmpWriteError("the XMP's regions are written in a form this app does not read, "
                                    "so they are left as they are")
            region_list = holder.child(MWG_RS, "RegionList")
            bag = self.container(region_list) if region_list is not None else None
            items = [c for c in bag.children if c.is_(RDF, "li")] if bag is not None else []
            doomed = [i for i in items if _is_ours(i) or _same_face(i, faces)]
            kept = _others(items, doomed)
            adding = n == 0 and bool(faces)
            parts = {(c.uri, c.local) for c in holder.children}
            if (doomed and not kept and not adding and not holder.text()
                    and parts <= {(MWG_RS, "AppliedToDimensions"), (MWG_RS, "RegionList")}
                    and all(k[0] == RDF for k in holder.attrs)):
                self.drop(prop)
                continue
            for item in doomed:
                self.delete(item)
            if not adding:
                continue
            dimensions = holder.child(MWG_RS, "AppliedToDimensions")
            first = [_dimensions(width, height)] if dimensions is None else []
            if dimensions is not None and not _same_dimensions(dimensions, width, height):
                self.replace(dimensions, _dimensions(width, height))
            if region_list is None:
                self.add(holder, first, [_region_list(faces)])
            elif bag is None:
                self.add(holder, first, [])
                self.replace(region_list, _region_list(faces))
            else:
                self.add(holder, first, [])
                self.add(bag, [], [_region_item(f) for f in faces], after=kept[-1] if kept else None)

    def keywords(self, names: Sequence[str]) -> None:
        missing_records: list[_Fragment] = []
        for keywords in KEYWORDS:
            records = self.properties(OURS, keywords.record)
            recorded: set[str] = set()
            for record in records:
                arrays = [c for c in record.children if c.uri == RDF and c.local in ("Bag", "Seq", "Alt")]
                recorded |= {i.text() for a in arrays for i in a.children if i.is_(RDF, "li")}
            props = self.properties(keywords.uri, keywords.local)
            wanted = [f"People{keywords.separator}{name}" for name in names]
            present: set[str] = set()
            plans = []
            for prop in props:
                array = self.container(prop)
                items = [c for c in array.children if c.is_(RDF, "li")] if array is not None else []
                doomed = [i for i in items if i.text() in recorded]
                kept = _others(items, doomed)
                present |= {i.text() for i in kept}
                plans.append((prop, array, doomed, kept))
            added = [w for w in wanted if w not in present]
            if not props and added:
                self.missing.append(_array(keywords.uri, keywords.local, keywords.kind, added))
            for n, (prop, array, doomed, kept) in enumerate(plans):
                adding = added if n == 0 else []
                if doomed and not kept and not adding:
                    self.drop(prop)
                    continue
                for item in doomed:
                    self.delete(item)
                if not adding:
                    continue
                if array is None:
                    self.replace(prop, _array(keywords.uri, keywords.local, keywords.kind, adding))
                else:
                    self.add(array, [], [_keyword_item(v) for v in adding], after=kept[-1] if kept else None)
            record_fragment = _array(OURS, keywords.record, "Bag", added)
            for n, record in enumerate(records):
                if n == 0 and added:
                    self.replace(record, record_fragment)
                else:
                    self.drop(record)
            if not records and added:
                missing_records.append(record_fragment)
        self.missing += missing_records

    def finish(self, about: str) -> bytes:
        """The document with the splices made. A description left with nothing in it (no other
        property, attribute or comment) once its properties are dropped is dropped too: this
        module made it."""
        for description in self.descriptions:
            gone = [c for c in description.children if id(c) in self.deleted]
            if not gone or len(gone) != len(description.children):
                continue
            if any(k[0] != RDF for k in description.attrs):
                continue
            bounds = [description.open_end, *(x for c in gone for x in (c.start, c.end)),
                      description.close]
            if any(self.data[a:b].strip() for a, b in zip(bounds[::2], bounds[1::2], strict=True)):
                continue
            for child in gone:
                del self.deleted[id(child)]
            self.deleted[id(description)] = description
        for element in self.deleted.values():
            self.delete(element)
        if self.missing:
            self.add(self.rdf, [], [_description(about, self.missing)])
        return self.splice()

    def splice(self) -> bytes:
        out, cursor = [], 0
        ordered = sorted(enumerate(self.splices), key=lambda s: (s[1][0], s[1][1], s[0]))
        for _, (start, end, text) in ordered:
            if start < cursor:
                raise XmpWriteError("the XMP could not be updated (overlapping edits)")
            out += [self.data[cursor:start], text]
            cursor = end
        out.append(self.data[cursor:])
        return b"".join(out)


def _clean_name(name: str) -> str:
    return " ".join(_NOT_XML_CHARS.sub("", name).split())


def _clean_box(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"a face box must be finite: {box}")
    x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in (x1, y1, x2, y2))
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        raise ValueError(f"a face box must enclose something inside the photo: {box}")
    return (x1, y1, x2, y2)


def render(existing: bytes | None, regions: Sequence[NamedRegion], dimensions: tuple[int, int]) -> bytes:
    """The XMP document (UTF-8 bytes) that ``existing`` becomes once it holds exactly these named
    face regions and name keywords. ``dimensions`` = (w, h) of the stored image in pixels;
    ``existing`` None makes a new sidecar. Raises :class:`XmpWriteError` for a document it cannot
    update safely, ``ValueError`` for impossible boxes or dimensions."""
    width, height = (int(v) for v in dimensions)
    if width <= 0 or height <= 0:
        raise ValueError(f"the photo's dimensions must be positive: {dimensions}")
    faces = [_Face(_clean_box(r.box), _clean_name(r.name or "")) for r in regions]
    names = sorted({f.name for f in faces if f.name})
    data = SKELETON if existing is None else bytes(existing)
    if len(data) > MAX_BYTES:
        raise XmpWriteError(f"the XMP is {len(data)} bytes, more than the {MAX_BYTES} this app reads, "
                            "so it is left as it is")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        # UTF-16 or 32: expat would read it (it trusts the byte order mark and zero bytes over the
        # encoding it is told), but the splices here are UTF-8 and XML has no zero bytes.
        raise XmpWriteError("the XMP is not UTF-8 text, so it is left as it is")
    edit = _Edit(data)
    about = edit.descriptions[0].attrs.get((RDF, "about"), "") if edit.descriptions else ""
    edit.regions(faces, width, height)
    edit.keywords(names)
    written = edit.finish(about)
    if len(written) > MAX_BYTES:
        raise XmpWriteError(f"the XMP would grow past the {MAX_BYTES} bytes this app reads")
    _parse(written)  # what is handed back must itself be readable; a bug here must not reach disk
    return written
