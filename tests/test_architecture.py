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


def imports(source: str, module: str) -> list[str]:
    """The modules ``source`` (the code of ``module``, dotted) imports, relative imports resolved;
    ``from X import Y`` counts as ``X.Y`` (Y may be a module)."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from ..store import schema, in faceorganizer.gui.x
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


WINDOW_MUST_NOT_IMPORT = ("sqlalchemy", "faceorganizer.store.schema")


def database_imports(source: str, module: str) -> list[str]:
    return [name for name in imports(source, module)
            if any(name == banned or name.startswith(banned + ".") for banned in WINDOW_MUST_NOT_IMPORT)]


def test_the_window_reads_the_library_through_the_read_layer_only() -> None:
    """No module of the window imports SQLAlchemy or the schema: it reads through
    ``store.read`` (small frozen rows) and writes through the core's functions."""
    offenders = {}
    for path in modules():
        relative = path.relative_to(PACKAGE.parent)
        if relative.parts[1] != "gui":
            continue
        module = ".".join(relative.with_suffix("").parts)
        found = database_imports(path.read_text(), module)
        if found:
            offenders[module] = found
    assert offenders == {}


def test_the_read_layer_rule_catches_every_form_of_import() -> None:
    module = "faceorganizer.gui.page"
    for source in ("import sqlalchemy", "from sqlalchemy.orm import Session",
                   "from faceorganizer.store.schema import Face", "from ..store.schema import Face",
                   "from ..store import schema", "import faceorganizer.store.schema as s",
                   "def f():\n    from sqlalchemy import select\n"):
        assert database_imports(source, module), source
    for source in ("from faceorganizer.store import read", "from ..store.read import face_count",
                   "import sqlalchemyish", "from .schemas import Thing"):
        assert database_imports(source, module) == [], source


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
