"""Is the window responsive while the work runs? A timer heartbeat during a real scan.

Opens the app offscreen on a new library, then scans ../shared/data/album (or
--folder) with the real models, while a 10 ms QTimer records when the event loop
gets to run. Prints the longest gap between beats (target: the event loop is never
blocked for more than 100 ms), for the models' warm-up and for the scan itself.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_responsiveness.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))


class Heartbeat:
    def __init__(self) -> None:
        self.beats: list[float] = []
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))

    def start(self) -> None:
        self.beats = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> tuple[float, float, int]:
        self.timer.stop()
        gaps = sorted((b - a) * 1000 for a, b in zip(self.beats, self.beats[1:], strict=False))
        if not gaps:
            return 0.0, 0.0, 0
        return gaps[-1], gaps[int(len(gaps) * 0.99)], sum(1 for g in gaps if g > 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DATA / "album")
    args = parser.parse_args()
    app = QApplication([])
    from faceorganizer.gui.app import preload_torch

    preload_torch(app)  # as the app does before its window appears
    from faceorganizer.gui.app import dispose
    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.store import Library

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        context = AppContext(Library(Path(tmp) / "library.sqlite"), settings)
        window = MainWindow(context, warm_up=False)
        window.show()
        heart = Heartbeat()
        if os.environ.get("SWITCH"):
            import sys
            sys.setswitchinterval(float(os.environ["SWITCH"]))
        for label, start in [("warm-up (loading the models)", window._warm_up),
                             (f"scan of {args.folder} and grouping",
                              lambda: window.start_scan([str(args.folder)]))]:
            finished = []
            window.job_finished.connect(lambda done=finished: done.append(True))
            heart.start()
            began = time.perf_counter()
            start()
            while not finished:
                app.processEvents()
                time.sleep(0.001)
            seconds = time.perf_counter() - began
            longest, p99, over = heart.stop()
            print(f"{label}: {seconds:.1f} s; longest event-loop gap {longest:.0f} ms, 99th percentile "
                  f"{p99:.0f} ms, {over} gaps over 100 ms (target: none)")
            window.job_finished.disconnect()
        summary = window.last_summary
        if summary is not None:
            print(f"  ({summary.new} photos, {summary.faces} faces)")
        dispose(window)


if __name__ == "__main__":
    main()
