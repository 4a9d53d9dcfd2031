"""XMP packets inside photo files: found without decoding a pixel, and put back in place.

Reading runs on every scanned photo, so :func:`embedded_packet` only walks the container's
structure to where each format keeps its packet (Adobe's XMP specification, part 3):

- JPEG: the APP1 segment that starts ``http://ns.adobe.com/xap/1.0/\\0``, among the segments
  before the image data (SOS); "Extended XMP" (larger packets split over more segments) is not
  joined, so its main part alone is read.
- PNG: the ``iTXt`` chunk with keyword ``XML:com.adobe.xmp``, compressed or not.
- WebP: the RIFF chunk ``XMP``.
- TIFF: tag 700 of the first IFD, either byte order, BigTIFF too.
- Anything else (HEIC, HEIF, AVIF, raw files): the first ``<x:xmpmeta`` ... ``</x:xmpmeta>``.

Photo files are hostile input as much as XMP is: every length and offset is checked against the
data, each step moves forward (so no loop can spin), decompression is capped, and a packet over
``MAX_BYTES`` is not returned. A malformed file gives None, never an exception. Zero bytes some
writers end the packet with (a C string's terminator) are left off.

Writing (:func:`embed_packet`) keeps the photo's pixels and other metadata byte for byte: only
the old XMP is cut out and the new packet put in its place (a JPEG segment, a PNG chunk, a WebP
chunk with the VP8X flag that announces it, a TIFF tag whose data is appended). The file is
rewritten through a temporary file in its folder and ``os.replace``, so a crash leaves the old
photo or the new one, never half of each. It is written by hand rather than with exiv2: the
packet stored is exactly the one given, and the app carries no native library for it. HEIC,
HEIF and AVIF are refused (their metadata sits in item boxes whose offsets span the file): they
get a sidecar.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from faceorganizer.paths import written_atomically
from faceorganizer.xmp import MAX_BYTES
from faceorganizer.xmp_write import XmpWriteError

JPEG_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_EXTENDED_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
JPEG_MAX_PACKET = 0xFFFF - 2 - len(JPEG_SIGNATURE)  # one APP1 segment; larger needs Extended XMP
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"XML:com.adobe.xmp\x00"
TIFF_XMP_TAG = 700
VP8X_XMP_FLAG = 0x04
VP8X_ALPHA_FLAG = 0x10

EMBEDDABLE = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp"})
SIDECAR_ONLY = frozenset({".heic", ".heif", ".hif", ".avif"})
HEIC_REFUSAL = "HEIC photos get a sidecar: this app does not write inside HEIC, HEIF or AVIF files"


class _Malformed(Exception):
    """The file's structure is not what its format says."""


class _Span(NamedTuple):
    kind: bytes  # a JPEG marker as one byte, a PNG chunk type, a RIFF fourcc
    start: int
    end: int


def _kind(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if data[4:8] == b"ftyp":
        return "isobmff"
    return None


# Reading ----------------------------------------------------------------------------------------

def _jpeg_segments(data: bytes) -> Iterator[_Span]:
    """The marker segments after SOI up to and including SOS (given as an empty span)."""
    position, size = 2, len(data)
    while position + 1 < size:
        if data[position] != 0xFF:
            raise _Malformed("a JPEG segment does not start with 0xFF")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            position += 2
            continue
        if marker in (0xDA, 0xD9):  # SOS: the image data follows; EOI
            yield _Span(bytes([marker]), position, position)
            return
        if position + 4 > size:
            raise _Malformed("a JPEG segment is cut short")
        length = int.from_bytes(data[position + 2:position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > size:
            raise _Malformed("a JPEG segment runs past the end of the file")
        yield _Span(bytes([marker]), position, end)
        position = end


def _jpeg_packet(data: bytes) -> bytes | None:
    for segment in _jpeg_segments(data):
        if segment.kind == b"\xe1" and data.startswith(JPEG_SIGNATURE, segment.start + 4):
            return data[segment.start + 4 + len(JPEG_SIGNATURE):segment.end]
    return None


def _png_chunks(data: bytes) -> Iterator[_Span]:
    """The chunks up to and including IEND."""
    position, size = len(PNG_SIGNATURE), len(data)
    while position + 12 <= size:
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if end > size:
            raise _Malformed("a PNG chunk runs past the end of the file")
        yield _Span(kind, position, end)
        if kind == b"IEND":
            return
        position = end


def _png_text(data: bytes, chunk: _Span) -> bytes | None:
    """The text of an XMP ``iTXt`` chunk, inflated to at most ``MAX_BYTES``."""
    body = data[chunk.start + 8 + len(PNG_KEYWORD):chunk.end - 4]
    if len(body) < 2:
        raise _Malformed("an iTXt chunk is cut short")
    compressed, rest = body[0], body[2:]
    language = rest.index(b"\x00")
    text = rest[rest.index(b"\x00", language + 1) + 1:]
    if not compressed:
        return text
    inflate = zlib.decompressobj()
    inflated = inflate.decompress(text, MAX_BYTES + 1)
    return inflated if inflate.eof and len(inflated) <= MAX_BYTES else None


def _png_packet(data: bytes) -> bytes | None:
    for chunk in _png_chunks(data):
        if chunk.kind == b"iTXt" and data.startswith(PNG_KEYWORD, chunk.start + 8):
            return _png_text(data, chunk)
    return None


def _riff_chunks(data: bytes) -> Iterator[_Span]:
    """The chunks of a RIFF file's body, each span ending after its padding byte (if there)."""
    end = min(8 + int.from_bytes(data[4:8], "little"), len(data))
    position = 12
    while position + 8 <= end:
        length = int.from_bytes(data[position + 4:position + 8], "little")
        stop = position + 8 + length
        if stop > end:
            raise _Malformed("a WebP chunk runs past the end of the file")
        yield _Span(data[position:position + 4], position, stop)
        position = stop + (length & 1)


def _webp_packet(data: bytes) -> bytes | None:
    for chunk in _riff_chunks(data):
        if chunk.kind == b"XMP ":
            return data[chunk.start + 8:chunk.end]
    return None


class _Ifd(NamedTuple):
    order: str  # struct's "<" or ">"
    big: bool  # BigTIFF: 8-byte counts and offsets, 20-byte entries
    offset: int
    entries: int

    @property
    def entry_size(self) -> int:
        return 20 if self.big else 12

    def entry(self, n: int) -> int:
        return self.offset + (8 if self.big else 2) + n * self.entry_size


def _first_ifd(data: bytes) -> _Ifd:
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(order + "H", data, 2)[0] == 43
    if big:
        if struct.unpack_from(order + "HH", data, 4) != (8, 0):
            raise _Malformed("a BigTIFF header with unusual offsets")
        offset = struct.unpack_from(order + "Q", data, 8)[0]
        count = struct.unpack_from(order + "Q", data, offset)[0] if offset + 8 <= len(data) else -1
    else:
        offset = struct.unpack_from(order + "I", data, 4)[0]
        count = struct.unpack_from(order + "H", data, offset)[0] if offset + 2 <= len(data) else -1
    ifd = _Ifd(order, big, offset, count)
    if offset < 8 or count < 0 or ifd.entry(count) + (8 if big else 4) > len(data):
        raise _Malformed("the TIFF's first IFD lies outside the file")
    return ifd


def _tiff_value(data: bytes, ifd: _Ifd, n: int) -> tuple[int, int, int]:
    """Entry ``n``'s type, count and where its value lies (in the entry when it fits)."""
    at = ifd.entry(n)
    if ifd.big:
        kind, count = struct.unpack_from(ifd.order + "HQ", data, at + 2)
        inline, offset = at + 12, struct.unpack_from(ifd.order + "Q", data, at + 12)[0]
    else:
        kind, count = struct.unpack_from(ifd.order + "HI", data, at + 2)
        inline, offset = at + 8, struct.unpack_from(ifd.order + "I", data, at + 8)[0]
    return kind, count, inline if count <= (8 if ifd.big else 4) else offset


def _tiff_packet(data: bytes) -> bytes | None:
    ifd = _first_ifd(data)
    for n in range(ifd.entries):
        if struct.unpack_from(ifd.order + "H", data, ifd.entry(n))[0] != TIFF_XMP_TAG:
            continue
        kind, count, where = _tiff_value(data, ifd, n)
        if kind not in (1, 2, 7) or count > MAX_BYTES or where + count > len(data):
            return None  # XMP is bytes: other types are not an XMP packet
        return data[where:where + count]
    return None


def _searched_packet(data: bytes) -> bytes | None:
    """The first ``x:xmpmeta`` element in the bytes, for containers not walked here."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    closing = b"</x:xmpmeta>"
    end = data.find(closing, start, start + MAX_BYTES)
    return data[start:end + len(closing)] if end >= 0 else None


_READERS = {"jpeg": _jpeg_packet, "png": _png_packet, "webp": _webp_packet, "tiff": _tiff_packet}


def embedded_packet(data: bytes) -> bytes | None:
    """The XMP packet embedded in a photo's bytes, or None. Never raises (malformed files give
    None). Reads only the container's headers, never the pixels."""
    try:
        reader = _READERS.get(_kind(data) or "", _searched_packet)
        packet = reader(data)
    except Exception:  # a malformed photo must never stop a scan: it simply has no XMP here
        return None
    if packet is not None:  # some writers end it with a C string's zero byte; XML has none
        packet = packet.rstrip(b"\x00")
    if not packet or len(packet) > MAX_BYTES:
        return None
    return packet


# Writing ----------------------------------------------------------------------------------------

def _spliced(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    out, cursor = [], 0
    for start, end, text in sorted(cuts, key=lambda c: (c[0], c[1])):
        out += [data[cursor:start], text]
        cursor = end
    out.append(data[cursor:])
    return b"".join(out)


def _jpeg_with(data: bytes, packet: bytes) -> bytes:
    if len(packet) > JPEG_MAX_PACKET:
        raise XmpWriteError(f"the XMP is too large for a JPEG ({len(packet)} bytes, at most "
                            f"{JPEG_MAX_PACKET})")
    segments = list(_jpeg_segments(data))
    if not segments or segments[-1].kind != b"\xda":
        raise XmpWriteError("the JPEG is damaged or cut short (its image data was not found)")
    signatures = (JPEG_SIGNATURE, JPEG_EXTENDED_SIGNATURE)
    xmp = [s for s in segments if s.kind == b"\xe1" and data.startswith(signatures, s.start + 4)]
    index = next((s.start for s in segments
                  if s.kind == b"\xe2" and data.startswith(b"MPF\x00", s.start + 4)), None)
    if index is not None and any(s.start > index for s in xmp):
        # MPF offsets count from its own header: a change after it would break the extra images.
        raise XmpWriteError("this JPEG keeps its XMP after the index of its extra images (MPF), "
                            "where changing it would damage them")
    main = [s for s in xmp if data.startswith(JPEG_SIGNATURE, s.start + 4)]
    if main:
        at = main[0].start
    else:  # after JFIF and Exif (APP0, APP1), where readers expect it
        at = 2
        for segment in segments:
            if segment.kind not in (b"\xe0", b"\xe1"):
                break
            at = segment.end
    added = (b"\xff\xe1" + (2 + len(JPEG_SIGNATURE) + len(packet)).to_bytes(2, "big")
             + JPEG_SIGNATURE + packet)
    return _spliced(data, [(at, at, added)] + [(s.start, s.end, b"") for s in xmp])


def _png_with(data: bytes, packet: bytes) -> bytes:
    chunks = list(_png_chunks(data))
    if not chunks or chunks[0].kind != b"IHDR" or chunks[-1].kind != b"IEND":
        raise XmpWriteError("the PNG is damaged or cut short")
    xmp = [c for c in chunks if c.kind == b"iTXt" and data.startswith(PNG_KEYWORD, c.start + 8)]
    pixels = next((c.start for c in chunks if c.kind == b"IDAT"), chunks[-1].start)
    at = xmp[0].start if xmp and xmp[0].start < pixels else chunks[0].end
    body = b"iTXt" + PNG_KEYWORD + b"\x00\x00\x00\x00" + packet  # not compressed, no language
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return _spliced(data, [(at, at, chunk)] + [(c.start, c.end, b"") for c in xmp])


def _canvas(data: bytes, chunk: _Span) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple WebP's single image."""
    body = data[chunk.start + 8:chunk.end]
    if chunk.kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    if chunk.kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    raise XmpWriteError("the WebP is damaged (its image header could not be read)")


def _webp_with(data: bytes, packet: bytes) -> bytes:
    declared = 8 + int.from_bytes(data[4:8], "little")
    if declared > len(data):
        raise XmpWriteError("the WebP is cut short")
    chunks = list(_riff_chunks(data))
    if not chunks:
        raise XmpWriteError("the WebP has no image")
    kept = []
    for chunk in chunks:
        if chunk.kind == b"XMP ":
            continue
        length = chunk.end - chunk.start - 8
        kept.append(data[chunk.start:chunk.end] + b"\x00" * (length & 1))
    first = chunks[0]
    if first.kind == b"VP8X":
        if first.end - first.start < 18:
            raise XmpWriteError("the WebP is damaged (its VP8X header is too short)")
        header = bytearray(kept[0])
        header[8] |= VP8X_XMP_FLAG
        kept[0] = bytes(header)
    elif first.kind in (b"VP8 ", b"VP8L"):  # the simple format: extended, to announce the XMP
        width, height, alpha = _canvas(data, first)
        flags = VP8X_XMP_FLAG | (VP8X_ALPHA_FLAG if alpha else 0)
        kept.insert(0, b"VP8X" + (10).to_bytes(4, "little") + bytes([flags, 0, 0, 0])
                    + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
    else:
        raise XmpWriteError("the WebP's layout is not one this app writes")
    xmp = b"XMP " + len(packet).to_bytes(4, "little") + packet + b"\x00" * (len(packet) & 1)
    body = b"WEBP" + b"".join(kept) + xmp
    return b"RIFF" + len(body).to_bytes(4, "little") + body + data[declared:]


def _tiff_with(data: bytes, packet: bytes) -> bytes:
    ifd = _first_ifd(data)
    if ifd.big:
        raise XmpWriteError("this app does not write inside BigTIFF files")
    order = ifd.order
    out = bytearray(data)

    def appended(payload: bytes) -> int:
        if len(out) % 2:  # TIFF values start on a word boundary
            out.append(0)
        offset = len(out)
        out.extend(payload)
        return offset

    tags = [struct.unpack_from(order + "H", data, ifd.entry(n))[0] for n in range(ifd.entries)]
    if TIFF_XMP_TAG in tags:
        n = tags.index(TIFF_XMP_TAG)
        kind, count, where = _tiff_value(data, ifd, n)
        old = count if kind in (1, 2, 7) and count > 4 and where + count <= len(data) else 0
        if old and where + old == len(data):  # ours from before, at the end: written over
            del out[where:]
            out.extend(packet)
        elif old and len(packet) <= old:  # fits where the old one was: no growth
            out[where:where + old] = packet + bytes(old - len(packet))
        else:  # the old one is wiped: names taken away must not stay in the file
            out[where:where + old] = bytes(old)
            where = appended(packet)
        struct.pack_into(order + "HHII", out, ifd.entry(n), TIFF_XMP_TAG, 1, len(packet), where)
    else:  # a new entry: IFD0 is copied to the end with it, in tag order, the header repointed,
        # and the packet after it (last in the file, so the next write replaces it in place)
        table = len(out) + len(out) % 2
        size = 2 + 12 * (ifd.entries + 1) + 4
        where = table + size + size % 2
        entries = [data[ifd.entry(n):ifd.entry(n + 1)] for n in range(ifd.entries)]
        entries.append(struct.pack(order + "HHII", TIFF_XMP_TAG, 1, len(packet), where))
        entries.sort(key=lambda e: struct.unpack_from(order + "H", e)[0])
        following = data[ifd.entry(ifd.entries):ifd.entry(ifd.entries) + 4]
        if appended(struct.pack(order + "H", len(entries)) + b"".join(entries) + following) != table:
            raise AssertionError("the TIFF's new IFD is not where it was planned")
        if appended(packet) != where:
            raise AssertionError("the TIFF's XMP is not where it was planned")
        struct.pack_into(order + "I", out, 4, table)
    if len(out) >= 1 << 32:
        raise XmpWriteError("the TIFF would grow past 4 GB")
    return bytes(out)


_WRITERS = {"jpeg": _jpeg_with, "png": _png_with, "webp": _webp_with, "tiff": _tiff_with}


def can_embed(path: str) -> bool:
    """Whether :func:`embed_packet` writes inside this kind of photo (by its extension)."""
    return os.path.splitext(path)[1].lower() in EMBEDDABLE


def _replace(path: str, data: bytes) -> None:
    """``path`` holds ``data`` now, or as it was if anything went wrong: never half of each."""
    opened = False
    try:
        with written_atomically(path) as out:
            opened = True
            out.write(data)
    except OSError as exc:
        reason = exc.strerror or exc
        if not opened:
            raise XmpWriteError(f"the photo's folder cannot be written to ({reason})") from exc
        raise XmpWriteError(f"the photo could not be written ({reason})") from exc


def embed_packet(path: str, packet: bytes) -> None:
    """Put ``packet`` into the photo file at ``path`` as its XMP (JPEG, PNG, TIFF, WebP),
    replacing any existing one, written atomically (temp file in the same folder +
    ``os.replace``). Pixels and all other metadata are kept. Raises :class:`XmpWriteError` with a
    plain-words reason for HEIC/HEIF/AVIF and for anything it cannot do."""
    extension = os.path.splitext(path)[1].lower()
    if extension in SIDECAR_ONLY:
        raise XmpWriteError(HEIC_REFUSAL)
    if extension not in EMBEDDABLE:
        raise XmpWriteError(f"{extension or 'files without an extension'} photos get a sidecar: this app "
                            "writes XMP inside JPEG, PNG, TIFF and WebP files only")
    if not packet or len(packet) > MAX_BYTES:
        raise XmpWriteError(f"the XMP is empty or larger than {MAX_BYTES} bytes")
    target = os.path.realpath(path)  # a link keeps pointing at the photo, which is replaced
    try:
        with open(target, "rb") as photo:
            data = photo.read()
    except OSError as exc:
        raise XmpWriteError(f"the photo could not be read ({exc.strerror or exc})") from exc
    kind = _kind(data)
    if kind == "isobmff":
        raise XmpWriteError(HEIC_REFUSAL)
    writer = _WRITERS.get(kind or "")
    if writer is None:
        raise XmpWriteError("the file is not a JPEG, PNG, TIFF or WebP photo, whatever its name says")
    try:
        updated = writer(data, packet)
    except (_Malformed, struct.error, ValueError, IndexError) as exc:
        raise XmpWriteError(f"the photo's file is damaged ({exc})") from exc
    if embedded_packet(updated) != packet:  # a bug here must not reach the user's photo
        raise XmpWriteError("the XMP could not be put into the photo (it did not read back)")
    _replace(target, updated)
