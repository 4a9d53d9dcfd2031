"""XMP packets inside photos: found in each format's own place (what Pillow and pillow-heif
wrote), never an exception or a wild read on damaged files, and written back with the pixels,
EXIF and everything else kept."""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from faceorganizer import paths
from faceorganizer.xmp import MAX_BYTES, parse
from faceorganizer.xmp_packets import (
    JPEG_MAX_PACKET,
    JPEG_SIGNATURE,
    can_embed,
    embed_packet,
    embedded_packet,
)
from faceorganizer.xmp_write import NamedRegion, XmpWriteError, render

OLD = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
NEW = render(OLD, [NamedRegion((0.1, 0.2, 0.3, 0.5), "Zoë")], (64, 48))


def pixels(seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (48, 64, len(mode)), dtype=np.uint8), mode)


def exif() -> Image.Exif:
    found = Image.Exif()
    found[0x010F] = "Camera maker"
    found[0x0112] = 6
    return found


def tiff(order: str = "<", big: bool = False, xmp: bytes | None = None) -> bytes:
    """A 4x3 grey TIFF made by hand: either byte order, classic or BigTIFF, tag 700 if given."""
    image = bytes(range(0, 240, 20))
    header = 16 if big else 8
    at_xmp = header + len(image)
    at_ifd = at_xmp + len(xmp or b"")
    at_ifd += at_ifd % 2
    entries = [(256, 3, 1, 4), (257, 3, 1, 3), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, header), (277, 3, 1, 1), (278, 3, 1, 3), (279, 4, 1, len(image))]
    if xmp is not None:
        entries.append((700, 1, len(xmp), at_xmp))
    mark = b"II" if order == "<" else b"MM"
    out = mark + (struct.pack(order + "HHHQ", 43, 8, 0, at_ifd) if big
                  else struct.pack(order + "HI", 42, at_ifd))
    out += image + (xmp or b"")
    out += b"\x00" * (at_ifd - len(out))
    out += struct.pack(order + ("Q" if big else "H"), len(entries))
    for tag, kind, count, value in entries:  # SHORT and LONG values in the entry, XMP's bytes at an offset
        size = {3: "H", 4: "I", 1: "Q" if big else "I"}[kind]
        field = struct.pack(order + size, value).ljust(8 if big else 4, b"\x00")
        out += struct.pack(order + ("HHQ" if big else "HHI"), tag, kind, count) + field
    return out + b"\x00" * (8 if big else 4)


def photo(kind: str) -> bytes:
    """A photo of each kind this app writes in, most with EXIF and an XMP packet of their own."""
    out = io.BytesIO()
    if kind == "jpeg":
        pixels().save(out, "JPEG", exif=exif(), xmp=OLD, quality=90)
    elif kind == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "kept")
        pixels().save(out, "PNG", pnginfo=info, exif=exif())
    elif kind == "png-alpha":
        pixels(1, "RGBA").save(out, "PNG")
    elif kind == "tiff":
        pixels().save(out, "TIFF", exif=exif(), compression="tiff_lzw", tiffinfo={700: OLD})
    elif kind in ("tiff-le", "tiff-be"):
        return tiff("<" if kind == "tiff-le" else ">")
    elif kind == "webp-lossless":
        pixels().save(out, "WEBP", lossless=True)
    elif kind == "webp-lossy":
        pixels().save(out, "WEBP", quality=80)
    elif kind == "webp-alpha":
        pixels(2, "RGBA").save(out, "WEBP", lossless=True)
    elif kind == "webp-extended":
        pixels().save(out, "WEBP", lossless=True, exif=exif(), xmp=OLD)
    return out.getvalue()


EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "png-alpha": ".png", "tiff": ".tif", "tiff-le": ".tiff",
              "tiff-be": ".tiff", "webp-lossless": ".webp", "webp-lossy": ".webp", "webp-alpha": ".webp",
              "webp-extended": ".webp"}


def decoded(data: bytes) -> tuple[np.ndarray, dict[int, object], tuple[int, int]]:
    """The pixels, the EXIF (without TIFF's XMP tag, which is the XMP) and the size."""
    with Image.open(io.BytesIO(data)) as image:
        tags = {k: v for k, v in image.getexif().items() if k != 700}
        return np.asarray(image.convert("RGBA")), tags, image.size


# Reading ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["jpeg", "tiff", "webp-extended"])
def test_the_packet_another_writer_put_is_found(kind: str) -> None:
    assert embedded_packet(photo(kind)) == OLD


@pytest.mark.parametrize("compressed", [False, True])
def test_png_itxt_packets_compressed_or_not(compressed: bool) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", OLD.decode(), zip=compressed)
    out = io.BytesIO()
    pixels().save(out, "PNG", pnginfo=info)
    data = out.getvalue()
    assert data[data.index(b"XML:com.adobe.xmp\x00") + 18] == compressed and (OLD in data) != compressed
    assert embedded_packet(data) == OLD


@pytest.mark.parametrize(("order", "big"), [("<", False), (">", False), ("<", True), (">", True)])
def test_tiff_in_both_byte_orders_and_bigtiff(order: str, big: bool) -> None:
    data = tiff(order, big, OLD)
    if not (big and order == ">"):  # a TIFF others read (Pillow misses big-endian BigTIFF's 43)
        with Image.open(io.BytesIO(data)) as image:
            assert np.asarray(image).tolist() == [[0, 20, 40, 60], [80, 100, 120, 140], [160, 180, 200, 220]]
            assert image.getexif()[700] == OLD
    assert embedded_packet(data) == OLD
    assert embedded_packet(tiff(order, big)) is None


@pytest.mark.parametrize("extension", [".heic", ".avif"])
def test_heic_and_avif_packets_are_found_by_their_element(tmp_path: Path, extension: str) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / f"photo{extension}"
    pixels().save(path, xmp=OLD)
    found = embedded_packet(path.read_bytes())
    assert found is not None and found.startswith(b"<x:xmpmeta") and found.endswith(b"</x:xmpmeta>")
    assert found in OLD and b'xmp:Rating="2"' in found


@pytest.mark.parametrize("kind", ["png", "tiff-le", "webp-lossless", "webp-lossy"])
def test_photos_without_xmp_have_none(kind: str) -> None:
    assert embedded_packet(photo(kind)) is None


def test_other_files_have_none() -> None:
    for data in (b"", b"\xff\xd8", b"GIF89a" + b"\x00" * 100, b"<x:xmpmeta never closed", b"\x00" * 1000):
        assert embedded_packet(data) is None


def test_the_header_packet_is_read_not_the_pixels() -> None:
    """A large JPEG: the XMP in the header is read, text that looks like XMP in the image data
    is not, and reading takes no time (the walk stops at the image data)."""
    decoy = b"<x:xmpmeta>decoy</x:xmpmeta>"
    big = Image.fromarray(np.random.default_rng(3).integers(0, 256, (1600, 2000, 3), dtype=np.uint8))
    out = io.BytesIO()
    big.save(out, "JPEG", xmp=OLD, quality=100)
    data = out.getvalue()[:-2] + decoy * 1000 + b"\xff\xd9"
    assert len(data) > 5_000_000
    started = time.perf_counter()
    for _ in range(100):
        assert embedded_packet(data) == OLD
    assert time.perf_counter() - started < 1.0  # about 2 µs each; a scan of the file is ~1 ms


# Damaged files ----------------------------------------------------------------------------------

def written_with_new(folder: Path, kind: str) -> bytes:
    """The photo with ``NEW`` embedded."""
    path = folder / f"{kind}{EXTENSIONS[kind]}"
    path.write_bytes(photo(kind))
    embed_packet(str(path), NEW)
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["jpeg", "png", "tiff", "tiff-be", "webp-lossless"])
def test_cut_short_files_give_the_whole_packet_or_none(tmp_path: Path, kind: str) -> None:
    data = written_with_new(tmp_path, kind)
    packet_end = data.index(NEW) + len(NEW)
    for cut in range(0, len(data), 7):
        found = embedded_packet(data[:cut])
        assert found in (None, NEW)
        if cut < packet_end:
            assert found is None


@pytest.mark.parametrize("kind", ["jpeg", "png", "tiff", "tiff-be", "webp-extended"])
def test_scrambled_files_never_raise(tmp_path: Path, kind: str) -> None:
    data = written_with_new(tmp_path, kind)
    rng = np.random.default_rng(7)
    header = min(len(data), 400)
    for _ in range(400):
        damaged = bytearray(data)
        for at in rng.integers(0, header, 3):
            damaged[at] = int(rng.integers(0, 256))
        found = embedded_packet(bytes(damaged))
        assert found is None or (isinstance(found, bytes) and 0 < len(found) <= MAX_BYTES)


def test_lengths_and_offsets_that_point_nowhere_give_none(tmp_path: Path) -> None:
    jpeg = written_with_new(tmp_path, "jpeg")
    app1 = jpeg.index(b"\xff\xe1" + (2 + len(JPEG_SIGNATURE) + len(NEW)).to_bytes(2, "big") + JPEG_SIGNATURE)
    for length in (b"\x00\x00", b"\x00\x01", b"\xff\xff"):  # shorter than the length field; past the end
        assert embedded_packet(jpeg[:app1 + 2] + length + jpeg[app1 + 4:]) is None

    png = written_with_new(tmp_path, "png")
    itxt = png.index(b"iTXt") - 4
    assert embedded_packet(png[:itxt] + b"\x7f\xff\xff\xff" + png[itxt + 4:]) is None

    webp = written_with_new(tmp_path, "webp-lossless")
    chunk = webp.index(b"XMP ")
    assert embedded_packet(webp[:chunk + 4] + b"\xff\xff\xff\x7f" + webp[chunk + 8:]) is None

    le = tiff("<", False, OLD)
    assert embedded_packet(le[:4] + struct.pack("<I", len(le) + 100) + le[8:]) is None  # IFD0 outside
    assert embedded_packet(le[:4] + struct.pack("<I", 0) + le[8:]) is None  # IFD0 over the header
    entry = le.index(struct.pack("<HH", 700, 1))
    # the packet's offset past the end
    assert embedded_packet(le[:entry + 8] + struct.pack("<I", len(le)) + le[entry + 12:]) is None
    big = tiff("<", True, OLD)
    assert embedded_packet(big[:8] + struct.pack("<Q", 1 << 62) + big[16:]) is None
    ifd = struct.unpack_from("<Q", big, 8)[0]
    assert embedded_packet(big[:ifd] + struct.pack("<Q", 1 << 60) + big[ifd + 8:]) is None  # entries


def test_packets_over_the_limit_are_not_returned() -> None:
    huge = OLD.replace(b"<rdf:RDF", b" " * MAX_BYTES + b"<rdf:RDF")
    assert embedded_packet(tiff("<", False, huge)) is None
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", huge.decode(), zip=True)  # a few kilobytes that inflate to 4 MB
    out = io.BytesIO()
    Image.new("L", (2, 2)).save(out, "PNG", pnginfo=info)
    assert len(out.getvalue()) < 20_000 and embedded_packet(out.getvalue()) is None
    heic_like = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 12 + huge
    assert embedded_packet(heic_like) is None
    webp = photo("webp-lossless")
    chunk = b"XMP " + len(huge).to_bytes(4, "little") + huge
    body = webp[8:] + chunk
    assert embedded_packet(b"RIFF" + len(body).to_bytes(4, "little") + body) is None
    assert embedded_packet(b"RIFF" + (len(body) - len(huge) + len(OLD)).to_bytes(4, "little") + webp[8:]
                           + b"XMP " + len(OLD).to_bytes(4, "little") + OLD) == OLD


def test_a_trailing_zero_byte_is_not_part_of_the_packet() -> None:
    plain = photo("webp-lossless")
    padded = OLD + b"\x00\x00"
    body = plain[8:] + b"XMP " + len(padded).to_bytes(4, "little") + padded
    assert embedded_packet(b"RIFF" + len(body).to_bytes(4, "little") + body) == OLD


def test_a_compressed_packet_cut_short_is_not_read() -> None:
    text = zlib.compress(OLD)[:-10]  # the chunk is whole, the deflate stream in it is not
    body = b"iTXt" + b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + text
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    png = photo("png")
    ihdr_end = 8 + 25
    assert embedded_packet(png[:ihdr_end] + chunk + png[ihdr_end:]) is None
    whole = b"iTXt" + b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(OLD)
    chunk = (len(whole) - 4).to_bytes(4, "big") + whole + zlib.crc32(whole).to_bytes(4, "big")
    assert embedded_packet(png[:ihdr_end] + chunk + png[ihdr_end:]) == OLD


# Writing ----------------------------------------------------------------------------------------

def scan_data(jpeg: bytes) -> bytes:
    """A JPEG from its first SOS marker on: the compressed pixels."""
    return jpeg[jpeg.index(b"\xff\xda"):]


@pytest.mark.parametrize("kind", list(EXTENSIONS))
def test_embedding_keeps_pixels_and_metadata_and_reads_back(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"photo{EXTENSIONS[kind]}"
    before = photo(kind)
    path.write_bytes(before)
    os.chmod(path, 0o640)
    embed_packet(str(path), NEW)
    after = path.read_bytes()
    assert embedded_packet(after) == NEW
    assert [r.name for r in parse(embedded_packet(after) or b"").regions] == ["Zoë"]
    pixels_before, exif_before, size_before = decoded(before)
    pixels_after, exif_after, size_after = decoded(after)
    assert np.array_equal(pixels_before, pixels_after) and size_before == size_after
    assert exif_after == exif_before
    with Image.open(path) as image:  # Pillow, reading on its own, finds the same packet
        image.load()
        assert NEW in (image.info.get("xmp"), image.info.get("XML:com.adobe.xmp", "").encode(),
                       image.getexif().get(700) if kind.startswith("tiff") else None)
    if kind == "jpeg":
        assert scan_data(after) == scan_data(before)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temporary file left


@pytest.mark.parametrize("kind", list(EXTENSIONS))
def test_embedding_again_replaces_the_packet(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"photo{EXTENSIONS[kind]}"
    path.write_bytes(photo(kind))
    embed_packet(str(path), OLD)
    embed_packet(str(path), NEW)
    once = path.read_bytes()
    assert embedded_packet(once) == NEW and OLD not in once
    embed_packet(str(path), NEW)
    assert path.read_bytes() == once  # nothing grows, nothing moves


def test_a_tiff_packet_that_does_not_fit_moves_and_the_old_one_is_wiped(tmp_path: Path) -> None:
    """Names taken away must not linger in the file: the old packet's bytes are zeroed."""
    path = tmp_path / "photo.tif"
    path.write_bytes(tiff(">", False, OLD))  # the packet in the middle of the file
    embed_packet(str(path), NEW)  # larger: appended
    moved = path.read_bytes()
    assert embedded_packet(moved) == NEW and OLD not in moved and moved.endswith(NEW)
    path.write_bytes(tiff(">", False, NEW))
    embed_packet(str(path), OLD)  # smaller: in place
    shrunk = path.read_bytes()
    assert embedded_packet(shrunk) == OLD and len(shrunk) == len(tiff(">", False, NEW))
    assert b"Zo\xc3\xab" not in shrunk
    for data in (moved, shrunk):
        with Image.open(io.BytesIO(data)) as image:
            assert np.asarray(image).tolist() == [[0, 20, 40, 60], [80, 100, 120, 140], [160, 180, 200, 220]]


def test_an_extended_webp_announces_its_new_xmp(tmp_path: Path) -> None:
    path = tmp_path / "photo.webp"
    out = io.BytesIO()
    pixels().save(out, "WEBP", lossless=True, exif=exif())
    assert out.getvalue()[12:16] == b"VP8X" and not out.getvalue()[20] & 0x04
    path.write_bytes(out.getvalue())
    embed_packet(str(path), NEW)
    after = path.read_bytes()
    assert after[20] & 0x04 and after[20] & 0x08  # XMP now, EXIF still
    assert decoded(after)[1] == dict(exif())


def test_a_simple_webp_becomes_extended_to_announce_its_xmp(tmp_path: Path) -> None:
    for kind, alpha in (("webp-lossy", False), ("webp-lossless", False), ("webp-alpha", True)):
        path = tmp_path / f"{kind}.webp"
        before = photo(kind)
        assert before[12:16] != b"VP8X"
        path.write_bytes(before)
        embed_packet(str(path), NEW)
        after = path.read_bytes()
        assert after[12:16] == b"VP8X" and after[20] & 0x04 and bool(after[20] & 0x10) == alpha
        canvas = (int.from_bytes(after[24:27], "little") + 1, int.from_bytes(after[27:30], "little") + 1)
        assert canvas == (64, 48)
        assert int.from_bytes(after[4:8], "little") == len(after) - 8


def test_the_jpeg_packet_goes_after_jfif_and_exif(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    out = io.BytesIO()
    pixels().save(out, "JPEG", exif=exif())
    path.write_bytes(out.getvalue())
    embed_packet(str(path), NEW)
    data = path.read_bytes()
    assert data.index(b"Exif\x00\x00") < data.index(JPEG_SIGNATURE) < data.index(b"\xff\xdb")
    assert data.count(JPEG_SIGNATURE) == 1


def test_jpeg_extra_images_index_is_never_shifted(tmp_path: Path) -> None:
    """MPF (the index of a JPEG's extra images) counts from its own header: the packet goes
    before it, and one kept after it is refused rather than moved."""
    plain = io.BytesIO()
    pixels().save(plain, "JPEG", exif=exif())
    data = plain.getvalue()
    first = data.index(b"\xff\xdb")  # after the APP segments
    mpf = b"\xff\xe2\x00\x0aMPF\x00\x00\x00\x00\x00"
    path = tmp_path / "photo.jpg"
    path.write_bytes(data[:first] + mpf + data[first:])
    embed_packet(str(path), NEW)
    written = path.read_bytes()
    assert written.index(JPEG_SIGNATURE) < written.index(b"MPF\x00")
    assert written.endswith(mpf + data[first:])
    xmp_after = data[:first] + mpf + b"\xff\xe1" + (2 + len(JPEG_SIGNATURE) + len(OLD)).to_bytes(2, "big") \
        + JPEG_SIGNATURE + OLD + data[first:]
    path.write_bytes(xmp_after)
    with pytest.raises(XmpWriteError, match="MPF"):
        embed_packet(str(path), NEW)
    assert path.read_bytes() == xmp_after


@pytest.mark.parametrize("extension", [".heic", ".HEIF", ".avif"])
def test_heic_photos_get_a_sidecar(tmp_path: Path, extension: str) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / f"photo{extension}"
    pixels().save(path, format="AVIF" if extension == ".avif" else "HEIF")
    before = path.read_bytes()
    with pytest.raises(XmpWriteError, match="HEIC photos get a sidecar"):
        embed_packet(str(path), NEW)
    disguised = tmp_path / "photo.jpg"  # what is inside counts, not the name
    disguised.write_bytes(before)
    with pytest.raises(XmpWriteError, match="HEIC photos get a sidecar"):
        embed_packet(str(disguised), NEW)
    assert path.read_bytes() == before and disguised.read_bytes() == before
    assert not can_embed(str(path))


def test_what_can_be_embedded_goes_by_extension() -> None:
    for name in ("a.jpg", "b.JPEG", "c.jpe", "d.jfif", "e.png", "f.tif", "g.TIFF", "h.webp"):
        assert can_embed(name), name
    for name in ("a.heic", "b.gif", "c.bmp", "d.dng", "e.cr2", "noextension", "f.jpg.xmp"):
        assert not can_embed(name), name


def test_what_cannot_be_written_is_refused_and_left_alone(tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    pixels().convert("P").save(gif)
    with pytest.raises(XmpWriteError, match="sidecar"):
        embed_packet(str(gif), NEW)
    cut = tmp_path / "cut.jpg"
    jpeg = photo("jpeg")
    cut.write_bytes(jpeg[:jpeg.index(b"\xff\xda") - 5])
    png_cut = tmp_path / "cut.png"
    png_cut.write_bytes(photo("png")[:-30])
    named_wrong = tmp_path / "really.png"
    named_wrong.write_bytes(b"BM" + b"\x00" * 100)
    big_tiff = tmp_path / "big.tif"
    big_tiff.write_bytes(tiff("<", True))
    for path, reason in ((cut, "damaged"), (png_cut, "damaged"), (named_wrong, "not a JPEG"),
                         (big_tiff, "BigTIFF")):
        before = path.read_bytes()
        with pytest.raises(XmpWriteError, match=reason):
            embed_packet(str(path), NEW)
        assert path.read_bytes() == before
    large = tmp_path / "large.jpg"
    large.write_bytes(jpeg)
    with pytest.raises(XmpWriteError, match="too large for a JPEG"):
        embed_packet(str(large), NEW + b" " * JPEG_MAX_PACKET)
    with pytest.raises(XmpWriteError, match="could not be read"):
        embed_packet(str(tmp_path / "missing.jpg"), NEW)
    left = (gif, cut, png_cut, named_wrong, big_tiff, large)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in left)


def test_a_link_keeps_pointing_at_the_photo(tmp_path: Path) -> None:
    target = tmp_path / "photo.jpg"
    target.write_bytes(photo("jpeg"))
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    embed_packet(str(link), NEW)
    assert link.is_symlink() and embedded_packet(target.read_bytes()) == NEW


def test_a_folder_that_cannot_be_written_is_a_plain_error(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.jpg"
    before = photo("jpeg")
    path.write_bytes(before)

    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(paths.tempfile, "mkstemp", refused)
    with pytest.raises(XmpWriteError, match="cannot be written to \\(Permission denied\\)"):
        embed_packet(str(path), NEW)
    assert path.read_bytes() == before


def test_a_failed_replace_leaves_the_photo_and_no_temporary_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.png"
    before = photo("png")
    path.write_bytes(before)

    def refused(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(paths.os, "replace", refused)
    with pytest.raises(XmpWriteError, match="could not be written \\(No space left on device\\)"):
        embed_packet(str(path), NEW)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["photo.png"]
