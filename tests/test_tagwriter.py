"""write-tags: names into sidecars (or the photos), a round trip into a new library, what is kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from faceorganizer import xmp
from faceorganizer.cli import main
from faceorganizer.people import operations
from faceorganizer.scan.events import ScanFinished, ScanSummary
from faceorganizer.scan.scanner import Scanner
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Face, Person, Photo
from faceorganizer.tagwriter import write_tags
from faceorganizer.xmp_packets import embedded_packet
from tests.fakes import face_image, fake_models
from tests.scan.test_regions import exiftool_regions, square, stored_and_oriented


def scan(library: Library, folder: Path) -> ScanSummary:
    events = list(Scanner(library, fake_models, ScanSettings(workers=1)).scan([folder]))
    assert isinstance(events[-1], ScanFinished)
    return events[-1].summary


def named(library: Library) -> list[tuple[str, tuple[int, ...], str | None]]:
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face, Person.name).join(Face, Face.photo_id == Photo.id)
                               .outerjoin(Person, Person.id == Face.person_id))
        return sorted((os.path.basename(p), tuple(round(v) for v in f.box), n) for p, f, n in rows)


def pixels(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in folder.iterdir():
        with Image.open(path) as image:
            found[path.name] = image.convert("RGB").tobytes()
    return found


def face_ids(library: Library) -> list[int]:
    with library.reader() as session:
        return list(session.scalars(select(Face.id).order_by(Face.id)))


@pytest.fixture
def album(tmp_path: Path) -> Path:
    root = tmp_path / "album"
    face_image(root / "a.jpg", [(50, 50, 0), (250, 150, 120)])
    face_image(root / "b.png", [(100, 100, 0)], fmt="PNG")
    face_image(root / "c.jpg", [(20, 20, 200)])
    return root


def name_everyone(library: Library) -> None:
    a1, a2, b1, c1 = face_ids(library)
    ann = operations.create_person(library, [a1, b1], "Ann")
    operations.create_person(library, [a2], "Zoë <Li> & \"Bo\"")
    hidden = operations.create_person(library, [c1], "Secret")
    operations.set_hidden(library, hidden, True)
    assert ann


def test_round_trip_a_new_library_gets_the_same_named_people(tmp_path: Path, album: Path) -> None:
    with Library(tmp_path / "first.sqlite") as first:
        scan(first, album)
        name_everyone(first)
        report = write_tags(first)
        assert (report.written, report.unchanged, report.failed) == (2, 0, [])
        assert sorted(p.name for p in album.glob("*.xmp")) == ["a.jpg.xmp", "b.png.xmp"]  # not the hidden one
        expected = [f for f in named(first) if f[2] != "Secret"]
        # a second run changes nothing, and the next scan does not take our writing for a change
        again = write_tags(first)
        assert (again.written, again.unchanged) == (0, 2)
        assert scan(first, album).unchanged == 3
    with Library(tmp_path / "second.sqlite") as second:
        scan(second, album)
        assert [f for f in named(second) if f[0] != "c.jpg"] == expected
        assert [f[2] for f in named(second) if f[0] == "c.jpg"] == [None]


def test_the_sidecar_holds_mwg_regions_and_keywords_digikam_and_lightroom_read(tmp_path: Path,
                                                                               album: Path) -> None:
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        name_everyone(library)
        write_tags(library, [album / "a.jpg"])
    content = (album / "a.jpg.xmp").read_bytes()
    assert not (album / "b.png.xmp").exists()  # only the path asked for
    parsed = xmp.parse(content)
    assert parsed.dimensions == (400, 300)
    assert sorted((r.name, tuple(round(v, 4) for v in r.box)) for r in parsed.regions) == [
        ("Ann", tuple(round(v, 4) for v in square(50, 50))),
        ('Zoë <Li> & "Bo"', tuple(round(v, 4) for v in square(250, 150)))]
    text = content.decode()
    assert "<rdf:li>People/Ann</rdf:li>" in text and "<rdf:li>People|Ann</rdf:li>" in text
    assert "http://www.digikam.org/ns/1.0/" in text and "http://ns.adobe.com/lightroom/1.0/" in text


def test_an_existing_sidecar_keeps_everything_else_byte_for_byte(tmp_path: Path, album: Path) -> None:
    rating = '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
    original = exiftool_regions([(square(50, 50), "Ann")]).replace("</rdf:RDF>", rating + "\n</rdf:RDF>")
    sidecar = album / "a.jpg.xmp"
    sidecar.write_text(original)
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        a2 = face_ids(library)[1]
        operations.create_person(library, [a2], "Bea")
        report = write_tags(library, [album / "a.jpg"])
        assert report.written == 1
        written = sidecar.read_text()
        assert rating in written and written.startswith(original[:original.index("<rdf:Description")])
        assert written.endswith(original[original.index("</rdf:RDF>"):])
        assert sorted(r.name for r in xmp.parse(written.encode()).regions) == ["Ann", "Bea"]
        # renamed in the library: the name written before is replaced, nothing else moves
        with library.reader() as session:
            bea = session.scalars(select(Person.id).where(Person.name == "Bea")).one()
        operations.rename(library, bea, "Beatrix")
        assert write_tags(library).written == 1
        again = sidecar.read_text()
        assert rating in again and "People/Bea<" not in again and "People/Beatrix" in again
        assert sorted(r.name for r in xmp.parse(again.encode()).regions) == ["Ann", "Beatrix"]


def test_a_sidecar_changed_since_the_last_scan_is_not_overwritten(tmp_path: Path, album: Path) -> None:
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        name_everyone(library)
        sidecar = album / "a.jpg.xmp"
        sidecar.write_text(exiftool_regions([(square(50, 50), "Someone else")]))
        report = write_tags(library)
        assert report.written == 1 and [os.path.basename(p) for p, _ in report.failed] == ["a.jpg"]
        assert "changed since the last scan" in report.failed[0][1]
        assert "Someone else" in sidecar.read_text()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_regions_are_written_in_the_image_as_stored(tmp_path: Path, orientation: int) -> None:
    album = tmp_path / "album"
    album.mkdir()
    stored = stored_and_oriented(album / "o.jpg", orientation, (60, 40))
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        operations.create_person(library, face_ids(library), "Olga")
        write_tags(library)
    parsed = xmp.parse((album / "o.jpg.xmp").read_bytes())
    with Image.open(album / "o.jpg") as image:
        width, height = image.size
    assert parsed.dimensions == (width, height)
    assert [tuple(round(v, 3) for v in r.box) for r in parsed.regions] == [tuple(round(v, 3) for v in stored)]


def test_embed_writes_into_jpeg_and_png_and_a_new_library_reads_it(tmp_path: Path, album: Path) -> None:
    with Library(tmp_path / "first.sqlite") as first:
        scan(first, album)
        name_everyone(first)
        before = pixels(album)
        report = write_tags(first, embed=True)
        assert (report.written, report.failed) == (2, [])
        assert not list(album.glob("*.xmp"))
        assert embedded_packet((album / "a.jpg").read_bytes()) is not None
        assert pixels(album) == before
        assert scan(first, album).unchanged == 3  # the library knows the photos it wrote into
        assert write_tags(first, embed=True).written == 0
        expected = [f for f in named(first) if f[2] != "Secret"]
    with Library(tmp_path / "second.sqlite") as second:
        scan(second, album)
        assert [f for f in named(second) if f[0] != "c.jpg"] == expected


def test_heic_always_gets_a_sidecar(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    album = tmp_path / "album"
    face_image(album / "h.heic", [(50, 50, 0)], fmt="HEIF", quality=95)
    data = (album / "h.heic").read_bytes()
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        operations.create_person(library, face_ids(library), "Hal")
        report = write_tags(library, embed=True)
        assert (report.written, report.failed) == (1, [])
    assert (album / "h.heic").read_bytes() == data
    assert [r.name for r in xmp.parse((album / "h.heic.xmp").read_bytes()).regions] == ["Hal"]


def test_write_tags_command_json_contract(tmp_path: Path, album: Path, capsys) -> None:
    library_path = tmp_path / "library.sqlite"
    with Library(library_path) as library:
        scan(library, album)
        name_everyone(library)
    (album / "b.png.xmp").mkdir()  # a folder where the sidecar should go
    code = main(["write-tags", "--library", str(library_path), "--json"])
    out, _ = capsys.readouterr()
    result = json.loads(out)
    assert set(result) == {"written", "unchanged", "failed"}
    assert result["written"] == 1 and result["unchanged"] == 0
    assert [f["path"] for f in result["failed"]] == [str(album / "b.png")] and code == 1
    assert set(result["failed"][0]) == {"path", "error"}


def test_a_sidecar_that_cannot_be_read_is_never_overwritten(tmp_path: Path, album: Path) -> None:
    broken = album / "c.jpg.xmp"
    broken.write_text("<x:xmpmeta><rdf:RDF")  # another app's, half written
    (album / "b.png.xmp").write_text("not xml at all")
    with Library(tmp_path / "library.sqlite") as library:
        scan(library, album)
        b1 = face_ids(library)[2]
        operations.create_person(library, [b1], "Ann")
        report = write_tags(library)
    # b.png has a name to write and cannot take it: reported; c.jpg has none: left alone, quietly
    assert report.written == 0 and [os.path.basename(p) for p, _ in report.failed] == ["b.png"]
    assert broken.read_text() == "<x:xmpmeta><rdf:RDF"
    assert (album / "b.png.xmp").read_text() == "not xml at all"
