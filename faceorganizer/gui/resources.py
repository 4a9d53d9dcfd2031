"""Where the app's own files (the icon) are: the checkout's resources/ folder, or the bundle's."""

from __future__ import annotations

import sys
from pathlib import Path


def icon_path() -> Path | None:
    bundle = getattr(sys, "_MEIPASS", None)
    folders = [Path(bundle) / "resources"] if bundle else []
    folders.append(Path(__file__).resolve().parents[2] / "resources")
    for folder in folders:
        if (folder / "faceorganizer.svg").is_file():
            return folder / "faceorganizer.svg"
    return None
