"""Opening the People view of a 10,000-face library, and scrolling through it.

Builds a library of 10,000 faces on 2,000 generated photos (embeddings drawn like
``cluster_scale.py``'s, grouped into people), then times, offscreen:

- opening the window on it until the People view has painted (target: under a second),
- scrolling the People grid and the largest person's page (thousands of faces) a
  screen at a time: the time each repaint takes, with thumbnails made in the
  background as they come into view (first pass) and from the cache (second pass).

    .venv/bin/python benchmarks/gui_people_view.py [--faces 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image, ImageDraw
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_scale import library as synthetic


def make_library(folder: Path, faces: int) -> Path:
    from faceorganizer.people.recluster import recluster
    from faceorganizer.people.settings import PeopleSettings
    from faceorganizer.store import Library
    from faceorganizer.store.records import bump_faces_revision
    from faceorganizer.store.schema import Face, Photo, Root

    vectors, _ = synthetic(faces)
    photos = faces // 5
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    for i in range(photos):
        image = Image.new("RGB", (800, 600), tuple(int(c) for c in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(image)
        for k in range(5):
            x = 20 + k * 155
            draw.ellipse((x, 200, x + 120, 360), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        image.save(folder / "photos" / f"{i:05d}.jpg", quality=80)
    path = folder / "library.sqlite"
    with Library(path) as library:
        with library.session() as session:
            session.add(Root(id=1, path=str(folder / "photos")))
            session.add_all(Photo(id=i + 1, root_id=1, rel=f"{i:05d}.jpg", size=1,
                                  mtime_ns=1, status="ok", width=800, height=600)
                            for i in range(photos))
            session.flush()
            session.add_all(Face(photo_id=i // 5 + 1, x1=20.0 + (i % 5) * 155, y1=200.0,
                                 x2=140.0 + (i % 5) * 155, y2=360.0, landmarks=[0.0] * 10,
                                 probability=0.999, embedding=vectors[i], embedding_model="synthetic")
                            for i in range(faces))
            bump_faces_revision(session)
        recluster(library, PeopleSettings())
    return path


def scroll_times(app: QApplication, view, thumbnails) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """Milliseconds per one-screen scroll step and repaint, and seconds until thumbnails settled."""
    bar = view.verticalScrollBar()
    bar.setValue(0)
    steps = []
    started = time.perf_counter()
    while True:
        began = time.perf_counter()
        bar.setValue(bar.value() + view.viewport().height())
        view.viewport().repaint()
        app.processEvents()
        steps.append((time.perf_counter() - began) * 1000)
        if bar.value() >= bar.maximum():
            break
    thumbnails.wait()
    app.processEvents()
    return steps, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10_000)
    args = parser.parse_args()
    app = QApplication([])
    from faceorganizer.gui.app import dispose
    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.store import Library
    from faceorganizer.thumbnails import ThumbnailCache

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        built = time.perf_counter()
        path = make_library(folder, args.faces)
        print(f"library of {args.faces} faces made in {time.perf_counter() - built:.1f} s")
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)

        started = time.perf_counter()
        context = AppContext(Library(path), settings,
                             thumbnails=ThumbnailService(ThumbnailCache(folder / "thumbs")))
        window = MainWindow(context, warm_up=False)
        window.resize(1280, 820)
        window.show()
        window.repaint()
        app.processEvents()
        opened = time.perf_counter() - started
        people = window.people.model.rowCount()
        print(f"window open with the People view painted in {opened * 1000:.0f} ms "
              f"({people} people; target under 1000 ms)")

        for label, view in [("People grid", window.people.grid)]:
            for attempt in ("thumbnails made as they come into view", "thumbnails from the cache"):
                steps, settle = scroll_times(app, view, context.thumbnails)
                print(f"{label}, {attempt}: {len(steps)} screens, repaint median "
                      f"{statistics.median(steps):.0f} ms, worst {max(steps):.0f} ms; thumbnails "
                      f"settled after {settle:.1f} s")
        largest = max((window.people.model.person(r) for r in range(people)), key=lambda p: p.faces)
        began = time.perf_counter()
        window.open_person(largest.id)
        window.repaint()
        app.processEvents()
        print(f"person page of {largest.faces} faces opened in "
              f"{(time.perf_counter() - began) * 1000:.0f} ms")
        for attempt in ("thumbnails made as they come into view", "thumbnails from the cache"):
            steps, settle = scroll_times(app, window.person.grid, context.thumbnails)
            print(f"person page, {attempt}: {len(steps)} screens, repaint median "
                  f"{statistics.median(steps):.0f} ms, worst {max(steps):.0f} ms; thumbnails settled "
                  f"after {settle:.1f} s")
        dispose(window)


if __name__ == "__main__":
    main()
