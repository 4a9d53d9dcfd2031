"""Face regions from files (XMP in the photo or a sidecar) become faces and names when scanning."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from PIL import Image
from sqlalchemy import select

from faceorganizer.people import operations
from faceorganizer.scan.events import ScanFinished, ScanSummary
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Photo
from faceorganizer.store.states import FaceOrigin
from tests.fakes import face_image, fake_models

MWG = ('xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
       'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" '
       'xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"')


def exiftool_regions(regions: list[tuple[tuple[float, float, float, float], str | None]],
                     size: tuple[int, int] = (400, 300), extra: str = "") -> str:
    """An XMP document as exiftool writes MWG regions (elements, parseType Resource); boxes are
    (x1, y1, x2, y2) normalized, written as centre and size."""
    items = []
    for (x1, y1, x2, y2), name in regions:
        name_part = f"<mwg-rs:Name>{name}</mwg-rs:Name>" if name else ""
        items.append(
            f"""<rdf:li rdf:parseType="Resource"><mwg-rs:Area rdf:parseType="Resource">
            <stArea:x>{(x1 + x2) / 2}</stArea:x><stArea:y>{(y1 + y2) / 2}</stArea:y>
            <stArea:w>{x2 - x1}</stArea:w><stArea:h>{y2 - y1}</stArea:h>
            <stArea:unit>normalized</stArea:unit></mwg-rs:Area>
            {name_part}<mwg-rs:Type>Face</mwg-rs:Type></rdf:li>""")
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" {MWG} xmlns:tiff="http://ns.adobe.com/tiff/1.0/" {extra}>
<mwg-rs:Regions rdf:parseType="Resource">
<mwg-rs:AppliedToDimensions rdf:parseType="Resource"><stDim:w>{size[0]}</stDim:w><stDim:h>{size[1]}</stDim:h>
<stDim:unit>pixel</stDim:unit></mwg-rs:AppliedToDimensions>
<mwg-rs:RegionList><rdf:Bag>{''.join(items)}</rdf:Bag></mwg-rs:RegionList>
</mwg-rs:Regions></rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def digikam_regions(regions: list[tuple[tuple[float, float, float, float], str]]) -> str:
    """The same as exiv2 and digiKam write it: attributes, a Seq as Mylio writes it."""
    items = "".join(
        f'<rdf:li><rdf:Description mwg-rs:Name="{escape(name)}" mwg-rs:Type="Face"><mwg-rs:Area '
        f'stArea:x="{(x1 + x2) / 2}" stArea:y="{(y1 + y2) / 2}" stArea:w="{x2 - x1}" '
        f'stArea:h="{y2 - y1}" stArea:unit="normalized"/></rdf:Description></rdf:li>'
        for (x1, y1, x2, y2), name in regions)
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" {MWG}><mwg-rs:Regions><rdf:Description>
<mwg-rs:RegionList><rdf:Seq>{items}</rdf:Seq></mwg-rs:RegionList>
</rdf:Description></mwg-rs:Regions></rdf:Description></rdf:RDF></x:xmpmeta>"""


def microsoft_regions(regions: list[tuple[tuple[float, float, float, float], str]]) -> str:
    items = "".join(
        f'<rdf:li MPReg:Rectangle="{x1}, {y1}, {x2 - x1}, {y2 - y1}" MPReg:PersonDisplayName="{name}"/>'
        for (x1, y1, x2, y2), name in regions)
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:MP="http://ns.microsoft.com/photo/1.2/"
 xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">
<MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>{items}</rdf:Bag></MPRI:Regions>
</MP:RegionInfo>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def jpeg_with_xmp(path: Path, packet: str) -> None:
    """Put an XMP APP1 segment right after the JPEG's SOI marker, as cameras and apps do."""
    data = path.read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode()
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])


# The fake detector finds the 60 px square drawn at (x, y); as a normalized box in 400 x 300:
def square(x: int, y: int, size: tuple[int, int] = (400, 300)) -> tuple[float, float, float, float]:
    return (x / size[0], y / size[1], (x + 60) / size[0], (y + 60) / size[1])


def scan(library: Library, folder: Path) -> ScanSummary:
    events = list(Scanner(library, fake_models, ScanSettings(workers=1)).scan([folder]))
    assert isinstance(events[-1], ScanFinished)
    return events[-1].summary


def faces(library: Library) -> list[tuple[str, tuple[float, ...], str | None, str, str]]:
    """(photo name, box, person name, state, origin) of every face, by photo and x."""
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face, Person.name).join(Face, Face.photo_id == Photo.id)
                               .outerjoin(Person, Person.id == Face.person_id))
        found = [(os.path.basename(path), tuple(round(v) for v in face.box), name, str(face.state),
                  str(face.origin)) for path, face, name in rows]
    return sorted(found, key=lambda f: (f[0], f[1]))


@pytest.fixture
def library(tmp_path: Path):
    with Library(tmp_path / "library.sqlite") as lib:
        yield lib


def test_a_named_sidecar_region_names_the_detected_face_as_confirmed(tmp_path: Path,
                                                                    library: Library) -> None:
    album = tmp_path / "album"
    photo = face_image(album / "a.jpg", [(50, 50, 0), (250, 150, 120)])
    # a slightly loose box, as other apps draw them: still the same face (IoU >= 0.3)
    x1, y1, x2, y2 = square(50, 50)
    loose = (x1 - 0.02, y1 - 0.03, x2 + 0.01, y2 + 0.02)
    (album / "a.jpg.xmp").write_text(exiftool_regions([(loose, "Ann")]))
    summary = scan(library, album)
    assert summary.tag_conflicts == () and summary.warnings == ()
    assert faces(library) == [("a.jpg", (50, 50, 110, 110), "Ann", "confirmed", "detected"),
                              ("a.jpg", (250, 150, 310, 210), None, "auto", "detected")]
    assert photo.exists()


def test_a_region_the_detector_missed_becomes_a_face_of_its_own(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    # a named region and an unnamed one where the detector finds nothing
    (album / "a.jpg.xmp").write_text(exiftool_regions([((0.6, 0.5, 0.75, 0.75), "Profile Pat"),
                                                        ((0.8, 0.1, 0.9, 0.3), None)]))
    scan(library, album)
    assert faces(library) == [
        ("a.jpg", (50, 50, 110, 110), None, "auto", "detected"),
        ("a.jpg", (240, 150, 300, 225), "Profile Pat", "confirmed", "file"),
        ("a.jpg", (320, 30, 360, 90), None, "auto", "file"),
    ]
    with library.reader() as session:
        own = session.scalars(select(Face).where(Face.origin == FaceOrigin.FILE)).all()
        assert all(f.embedding.shape == (512,) and abs(float((f.embedding ** 2).sum()) - 1) < 1e-4
                   for f in own)


def test_digikam_attributes_in_a_seq_and_the_sidecar_without_the_extension(tmp_path: Path,
                                                                          library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "b.jpg", [(50, 50, 0), (250, 150, 120)])
    (album / "b.xmp").write_text(digikam_regions([(square(250, 150), "Bo"), (square(50, 50), "Zoë & Li")]))
    scan(library, album)
    assert [(f[2], f[3]) for f in faces(library)] == [("Zoë & Li", "confirmed"), ("Bo", "confirmed")]


def test_microsoft_regions_are_read_when_there_are_no_mwg_ones(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "c.jpg", [(50, 50, 0)])
    (album / "c.jpg.xmp").write_text(microsoft_regions([(square(50, 50), "Mia")]))
    scan(library, album)
    assert [(f[2], f[4]) for f in faces(library)] == [("Mia", "detected")]


def test_the_sidecar_wins_over_the_regions_inside_the_photo(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    photo = face_image(album / "d.jpg", [(50, 50, 0), (250, 150, 120)])
    jpeg_with_xmp(photo, exiftool_regions([(square(50, 50), "Inside")]))
    scan(library, album)
    assert [f[2] for f in faces(library)] == ["Inside", None]

    other = tmp_path / "other"
    photo = face_image(other / "d.jpg", [(50, 50, 0), (250, 150, 120)])
    jpeg_with_xmp(photo, exiftool_regions([(square(50, 50), "Inside")]))
    (other / "d.jpg.xmp").write_text(exiftool_regions([(square(250, 150), "Beside")]))
    with Library(tmp_path / "other.sqlite") as second:
        scan(second, other)
        assert [f[2] for f in faces(second)] == [None, "Beside"]


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif")])
def test_regions_embedded_in_png_webp_and_tiff(tmp_path: Path, library: Library, fmt: str,
                                               suffix: str) -> None:
    from PIL import PngImagePlugin

    album = tmp_path / "album"
    packet = exiftool_regions([(square(50, 50), "Eve")])
    photo = album / f"e{suffix}"
    save: dict = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet)
        save["pnginfo"] = info
    elif fmt == "WEBP":
        save.update(xmp=packet.encode(), lossless=True)
    else:
        save["tiffinfo"] = {700: packet.encode()}
    face_image(photo, [(50, 50, 0)], fmt=fmt, **save)
    scan(library, album)
    assert [(f[2], f[3]) for f in faces(library)] == [("Eve", "confirmed")]


def test_heic_with_a_sidecar(tmp_path: Path, library: Library) -> None:
    pytest.importorskip("pillow_heif")
    album = tmp_path / "album"
    face_image(album / "f.heic", [(50, 50, 0)], fmt="HEIF", quality=95)
    (album / "f.heic.xmp").write_text(exiftool_regions([(square(50, 50), "Hal")]))
    scan(library, album)
    assert [(f[2], f[3]) for f in faces(library)] == [("Hal", "confirmed")]


def stored_and_oriented(path: Path, orientation: int,
                        face_at: tuple[int, int]) -> tuple[float, float, float, float]:
    """A photo whose displayed image (after EXIF ``orientation``) has the face square at
    ``face_at`` in 400 x 300: the pixels are stored turned back. The face's box in the image
    as stored, normalized (what a region holds)."""
    from PIL import ImageOps

    shown = tmp_photo = path.with_suffix(".shown.png")
    face_image(tmp_photo, [(*face_at, 0)], fmt="PNG")
    with Image.open(shown) as opened:
        image = opened.convert("RGB")
    tmp_photo.unlink()
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = image.transpose(inverse[orientation]) if orientation != 1 else image
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, quality=95, exif=exif)
    # check the test's own arithmetic: Pillow's transpose gives back the displayed photo
    with Image.open(path) as written:
        assert ImageOps.exif_transpose(written).size == (400, 300)
    # where the square lies in the stored pixels: find its bright outline
    import numpy as np

    mask = np.asarray(stored.convert("L")) > 230
    ys, xs = np.nonzero(mask)
    w, h = stored.size
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_apply_to_the_image_as_stored_and_turn_with_the_exif_orientation(
        tmp_path: Path, library: Library, orientation: int) -> None:
    album = tmp_path / "album"
    album.mkdir()
    box = stored_and_oriented(album / "o.jpg", orientation, (60, 40))
    # a decoy in the other corner: a region turned the wrong way would land nearer to it
    (album / "o.jpg.xmp").write_text(exiftool_regions([(box, "Olga")]))
    scan(library, album)
    found = faces(library)
    assert [(f[1], f[2], f[4]) for f in found] == [((60, 40, 120, 100), "Olga", "detected")]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_sidecar_orientation_counts_when_the_photo_has_none(tmp_path: Path, library: Library,
                                                             orientation: int) -> None:
    album = tmp_path / "album"
    album.mkdir()
    box = stored_and_oriented(album / "s.jpg", orientation, (60, 40))
    # the same pixels without EXIF orientation; the sidecar says how to turn them
    with Image.open(album / "s.jpg") as image:
        image.load()
        image.save(album / "s.jpg", quality=95)
    (album / "s.jpg.xmp").write_text(exiftool_regions(
        [(box, "Sid")], extra=f'tiff:Orientation="{orientation}"'))
    scan(library, album)
    with library.reader() as session:
        photo = session.scalars(select(Photo)).one()
        assert (photo.width, photo.height) == (400, 300)
    assert [(f[1], f[2]) for f in faces(library)] == [((60, 40, 120, 100), "Sid")]


def test_a_sidecar_added_or_edited_later_is_read_by_the_next_scan(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    scan(library, album)
    assert [f[2] for f in faces(library)] == [None]
    with library.reader() as session:
        face_id = session.scalars(select(Face.id)).one()

    sidecar = album / "a.jpg.xmp"
    sidecar.write_text(exiftool_regions([(square(50, 50), "Ann")]))
    summary = scan(library, album)
    assert summary.changed == 1
    assert [(f[2], f[3]) for f in faces(library)] == [("Ann", "confirmed")]
    with library.reader() as session:
        assert session.scalars(select(Face.id)).one() == face_id  # the same face, now named

    assert scan(library, album).unchanged == 1  # nothing changed: not read again

    # edited to another name: the library's decision stands, and the conflict is reported
    sidecar.write_text(exiftool_regions([(square(50, 50), "Bea")]))
    os.utime(sidecar, ns=(os.stat(sidecar).st_mtime_ns + 10**9,) * 2)
    summary = scan(library, album)
    assert [c.as_dict() for c in summary.tag_conflicts] == [
        {"photo": str(album / "a.jpg"), "box": [50.0, 50.0, 110.0, 110.0], "file_name": "Bea",
         "library_name": "Ann"}]
    assert [(f[2], f[3]) for f in faces(library)] == [("Ann", "confirmed")]


def test_the_library_wins_over_a_file_for_a_face_the_user_decided_on(tmp_path: Path,
                                                                     library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    face_image(album / "b.jpg", [(50, 50, 0)])
    scan(library, album)
    with library.reader() as session:
        first, second = session.scalars(select(Face.id).order_by(Face.id)).all()
    carl = operations.create_person(library, [first], "Carl")
    operations.reject(library, [second], carl)  # "the face in b is not Carl"
    (album / "a.jpg.xmp").write_text(exiftool_regions([(square(50, 50), "Dan")]))
    (album / "b.jpg.xmp").write_text(exiftool_regions([(square(50, 50), "Carl")]))
    summary = scan(library, album)
    conflicts = [(os.path.basename(c.photo), c.file_name, c.library_name) for c in summary.tag_conflicts]
    assert sorted(conflicts) == [
        ("a.jpg", "Dan", "Carl"), ("b.jpg", "Carl", None)]
    assert [(f[0], f[2], f[3]) for f in faces(library)] == [("a.jpg", "Carl", "confirmed"),
                                                            ("b.jpg", None, "auto")]


def test_faces_from_files_and_drawn_ones_survive_a_re_detection(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    photo = face_image(album / "a.jpg", [(50, 50, 0)])
    (album / "a.jpg.xmp").write_text(exiftool_regions([((0.6, 0.5, 0.75, 0.75), "Pat")]))
    scan(library, album)
    before = faces(library)
    assert [f[4] for f in before] == ["detected", "file"]
    (album / "a.jpg.xmp").unlink()  # the sidecar goes, and the photo is edited
    face_image(photo, [(50, 50, 0)], size=(400, 300), colour=(250, 250, 250))
    summary = scan(library, album)
    assert summary.changed == 1
    assert [(f[1], f[2], f[3], f[4]) for f in faces(library)] == [(f[1], f[2], f[3], f[4]) for f in before]


@pytest.mark.parametrize("hostile", [
    "folder",
    "unreadable",
    "<x:xmpmeta><rdf:RDF",  # malformed
    """<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol3;</x:xmpmeta>""",
    """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/">&ext;</x:xmpmeta>""",
    "nan",
])
def test_a_hostile_sidecar_gives_a_warning_and_the_photo_is_still_scanned(tmp_path: Path, library: Library,
                                                                          hostile: str) -> None:
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    sidecar = album / "a.jpg.xmp"
    if hostile == "folder":
        sidecar.mkdir()
    elif hostile == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads every file")
        sidecar.write_text(exiftool_regions([(square(50, 50), "Ann")]))
        sidecar.chmod(0)
    elif hostile == "nan":
        sidecar.write_text(exiftool_regions([((float("nan"), 0.1, 0.2, 0.3), "Nan"),
                                             ((-0.5, 0.2, 0.1, 1.7), "Wide")]))
    else:
        sidecar.write_text(hostile)
    summary = scan(library, album)
    assert summary.new == 1 and summary.failed == 0
    assert [(f[2], f[4]) for f in faces(library)] == [(None, "detected")]
    assert summary.warnings and {w.path for w in summary.warnings} == {str(album / "a.jpg")}
    with library.reader() as session:
        photo = session.scalars(select(Photo)).one()
        assert photo.status == "ok" and photo.warning == "\n".join(w.error for w in summary.warnings)
    assert all("sidecar" in w.error for w in summary.warnings)


def test_thousands_of_regions_do_not_hang_and_are_capped(tmp_path: Path, library: Library) -> None:
    album = tmp_path / "album"
    face_image(album / "a.jpg", [(50, 50, 0)])
    many = [((i % 50) / 50, (i // 50 % 50) / 50, (i % 50) / 50 + 0.02, (i // 50 % 50) / 50 + 0.02)
            for i in range(3000)]
    (album / "a.jpg.xmp").write_text(exiftool_regions([(box, None) for box in many]))
    summary = scan(library, album)
    assert summary.new == 1
    assert summary.warnings and "1000" in summary.warnings[0].error
    # the thousand regions read are 8 x 6 px: too small to be faces, none is made
    assert [(f[2], f[4]) for f in faces(library)] == [(None, "detected")]
