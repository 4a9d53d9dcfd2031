"""What reading face regions (XMP) adds to a scan (issue 11: under 5%).

Copies ``../shared/data/album``, finds its faces once, and names every face the way other apps
leave names: half the photos get a sidecar ``NAME.EXT.xmp`` (MWG regions on the faces, keywords
and other metadata), the other half the same packet embedded in the JPEG. Then:

1. times :func:`faceorganizer.sidecars.file_regions` on every photo (what the scan adds per
   photo: finding the packet in the bytes, reading the sidecar, parsing both);
2. scans the folder into new libraries with the real models, alternately with region reading
   switched off and on (three of each, the models loaded once), and compares the medians.

    .venv/bin/python benchmarks/xmp_read_cost.py
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))

OTHER = ('<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
         'xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="4"><dc:subject><rdf:Bag>'
         '<rdf:li>holiday</rdf:li><rdf:li>beach</rdf:li></rdf:Bag></dc:subject></rdf:Description>')


def build(folder: Path, boxes: dict[str, list[tuple[float, float, float, float]]]) -> None:
    """Name every face found (``boxes``: normalized, by photo name), in a sidecar or inside."""
    from faceorganizer.xmp_packets import embed_packet
    from faceorganizer.xmp_write import NamedRegion, render

    for i, photo in enumerate(sorted(folder.glob("*.jpg"))):
        with Image.open(photo) as image:
            size = image.size
            assert image.getexif().get(0x0112, 1) == 1  # the album is stored upright
        regions = [NamedRegion(box, f"Person {i}.{j}") for j, box in enumerate(boxes.get(photo.name, []))]
        packet = render(None, regions, size).replace(b"</rdf:RDF>", OTHER.encode() + b"</rdf:RDF>")
        if i % 2:
            Path(str(photo) + ".xmp").write_bytes(packet)
        else:
            embed_packet(str(photo), packet)


def found_boxes(library_path: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    from sqlalchemy import select

    from faceorganizer.store import Library
    from faceorganizer.store.schema import Face, Photo

    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    with Library(library_path) as library, library.reader() as session:
        for photo, face in session.execute(select(Photo, Face).join(Face, Face.photo_id == Photo.id)):
            w, h = photo.width, photo.height
            boxes.setdefault(Path(photo.path).name, []).append(
                (max(face.x1 / w, 0), max(face.y1 / h, 0), min(face.x2 / w, 1), min(face.y2 / h, 1)))
    return boxes


def main() -> None:
    from sqlalchemy import func, select

    from faceorganizer.models.loader import load_models
    from faceorganizer.scan import scanner as scanner_module
    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings
    from faceorganizer.sidecars import FileRegions, file_regions, find
    from faceorganizer.store import Library
    from faceorganizer.store.schema import Face
    from faceorganizer.store.states import FaceState

    work = Path(tempfile.mkdtemp(prefix="faceorganizer-xmp-"))
    folder = work / "album"
    folder.mkdir()
    for source in sorted((DATA / "album").glob("*.jpg")):
        shutil.copy(source, folder / source.name)
    settings = ScanSettings()
    models = load_models("cpu", workers=settings.workers, embed_batch=settings.embed_batch)
    with Library(work / "detect.sqlite") as library:
        list(Scanner(library, lambda: models, settings).scan([folder]))
    boxes = found_boxes(work / "detect.sqlite")
    build(folder, boxes)
    photos = sorted(folder.glob("*.jpg"))
    named = sum(len(b) for b in boxes.values())
    data = [(p.read_bytes(), find(p)) for p in photos]
    started = time.perf_counter()
    rounds = 20
    regions = 0
    for _ in range(rounds):
        for content, sidecar in data:
            regions += len(file_regions(content, sidecar.path if sidecar else None).regions)
    per_photo = (time.perf_counter() - started) / (rounds * len(data))
    assert regions == rounds * named, regions

    real = scanner_module.file_regions
    times: dict[str, list[float]] = {"off": [], "on": []}
    faces: dict[str, int] = {}
    conflicts: dict[str, int] = {}
    for run in range(6):
        mode = "off" if run % 2 == 0 else "on"
        scanner_module.file_regions = real if mode == "on" else (lambda data, sidecar: FileRegions())
        with Library(work / f"library-{run}.sqlite") as library:
            started = time.perf_counter()
            events = list(Scanner(library, lambda: models, settings).scan([folder]))
            times[mode].append(time.perf_counter() - started)
            faces[mode] = events[-1].summary.faces  # type: ignore[union-attr]
            conflicts[mode] = len(events[-1].summary.tag_conflicts)  # type: ignore[union-attr]
            if mode == "on":
                with library.reader() as session:
                    confirmed = session.scalar(select(func.count(Face.id)).where(
                        Face.state == FaceState.CONFIRMED))
    scanner_module.file_regions = real
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    scan_per_photo = off / len(photos)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"photos: {len(photos)} (half with a sidecar, half with the XMP inside), {named} named regions")
    print(f"file_regions: {per_photo * 1e3:.3f} ms per photo = {per_photo / scan_per_photo:.2%} of "
          f"a scan's {scan_per_photo * 1e3:.0f} ms per photo")
    print(f"whole scans, median of 3: reading off {off:.2f} s, on {on:.2f} s ({on / off - 1:+.1%}); "
          f"faces {faces['off']} -> {faces['on']}, {confirmed} named from the files, "
          f"{conflicts['on']} conflicts")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
