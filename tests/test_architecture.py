"""Rules the code base keeps: a Qt-free core, documented modules, light listing commands."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faceorganizer"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_only_the_gui_imports_qt() -> None:
    offenders = []
    for path in modules():
        if "gui" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_every_module_says_what_it_is_for() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in modules()
               if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def test_listing_the_library_does_not_load_torch(tmp_path: Path) -> None:
    code = ("import sys; from faceorganizer.cli import main; "
            f"main(['photos', '--library', {str(tmp_path / 'l.sqlite')!r}]); "
            "print('torch' in sys.modules, 'torchvision' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip().splitlines()[-1] == "False False"


def test_scanning_never_imports_torchvision(tmp_path: Path) -> None:
    """facenet-pytorch's package imports torchvision (+2.5 s); the scan path must not."""
    code = ("import sys; import faceorganizer.models.loader, faceorganizer.scan.scanner; "
            "print('torchvision' in sys.modules, 'facenet_pytorch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "False False", done.stderr
