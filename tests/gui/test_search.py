"""Search in the window: the newest search is the one shown, whatever the older ones do."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceorganizer.models.base import Models
from faceorganizer.store import read
from tests.fakes import FakeEmbedder, face_image
from tests.gui.conftest import SHADES, GatedDetector, scan

pytestmark = pytest.mark.gui

SLOW_WIDTH = 500  # the detector waits before it looks at a photo this wide


def test_a_superseded_search_never_replaces_the_newer_ones_results(
        qtbot, make_window, photo_folder, tmp_path: Path) -> None:
    """Issue 9, item 4: the older search's results arrived after the newer one's and replaced them."""
    detector = GatedDetector(lambda image: image.width == SLOW_WIDTH)
    models = Models(detector, FakeEmbedder())
    window = make_window(models=lambda progress: models)
    scan(qtbot, window, photo_folder)
    page = window.search
    outside = face_image(tmp_path / "outside.jpg", [(60, 60, SHADES["ann"])], size=(SLOW_WIDTH, 300))

    window.search_image(outside)  # slow: it waits in the detector
    first = page.runner
    assert first is not None
    assert detector.waiting.wait(30)
    with window.context.library.reader() as session:
        bob = next(f.id for f in read.faces(session) if Path(f.photo).name == "bob0.jpg")
    with qtbot.waitSignal(page.search_finished, timeout=30_000):
        window.search_face(bob)  # fast
    newest = shown(page)
    assert sorted(newest[:3]) == ["ann-and-bob.jpg", "bob0.jpg", "bob1.jpg"]

    detector.release.set()
    qtbot.waitUntil(lambda: not first.is_running(), timeout=30_000)  # whatever it sent has arrived
    assert shown(page) == newest
    assert "face #" in page.query.text()


def shown(page) -> list[str]:
    return [page.proxy.data(page.proxy.index(r, 0)) for r in range(page.proxy.rowCount())]


def test_an_abandoned_runner_delivers_nothing_and_a_cancelled_one_still_ends(qtbot) -> None:
    import threading

    from faceorganizer.gui.worker import JobRunner

    def job(cancel: threading.Event):
        yield "before"
        assert gate.wait(30)
        yield "after"

    for abandon in (False, True):
        gate = threading.Event()
        runner = JobRunner(job)
        got: list[object] = []
        runner.occurred.connect(got.append)
        runner.finished.connect(lambda got=got: got.append("finished"))
        with qtbot.waitSignal(runner.occurred, timeout=10_000):
            runner.start()
        if abandon:
            runner.abandon()
        else:
            runner.cancel()
        gate.set()
        qtbot.waitUntil(lambda runner=runner: not runner.is_running(), timeout=10_000)
        assert got == (["before"] if abandon else ["before", "after", "finished"])
        assert runner.cancelled
