"""Which library the window opens: ``--library``, then ``$FACEORGANIZER_LIBRARY``, then the last
one used (or the default, which the window itself chooses): for ``faceorganizer`` with no
command as for ``faceorganizer gui``. No window is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

import faceorganizer.cli
import faceorganizer.gui.app
from faceorganizer.cli import main


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, Path | None]]:
    """The library (as written: a file or a server address) and the weights each window would
    have been opened with."""
    calls: list[tuple[str | None, Path | None]] = []

    def gui_main(argv=(), library=None, weights=None) -> int:
        calls.append((library, weights))
        return 0
    monkeypatch.setattr(faceorganizer.gui.app, "main", gui_main)
    return calls


@pytest.mark.parametrize("command", [[], ["gui"]])
def test_the_environment_picks_the_library_of_the_window(
        command: list[str], opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9, item 12a: ``faceorganizer`` alone ignored ``$FACEORGANIZER_LIBRARY``."""
    monkeypatch.setenv("FACEORGANIZER_LIBRARY", str(tmp_path / "env.sqlite"))
    assert main(command) == 0
    assert opened == [(str(tmp_path / "env.sqlite"), None)]


def test_library_beats_the_environment(opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEORGANIZER_LIBRARY", str(tmp_path / "env.sqlite"))
    assert main(["gui", "--library", str(tmp_path / "given.sqlite"), "--weights", "w.pt"]) == 0
    assert opened == [(str(tmp_path / "given.sqlite"), Path("w.pt"))]


def test_a_server_library_reaches_the_window_as_written(opened, monkeypatch: pytest.MonkeyPatch) -> None:
    address = "postgresql://anna@nas.local:5433/family"
    assert main(["gui", "--library", address]) == 0
    monkeypatch.setenv("FACEORGANIZER_LIBRARY", address)
    assert main([]) == 0
    assert opened == [(address, None), (address, None)]


@pytest.mark.parametrize("command", [[], ["gui"]])
@pytest.mark.parametrize("value", [None, ""])
def test_without_either_the_window_chooses(command: list[str], value: str | None, opened,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No library given: the window opens the last one used, or the default (``gui.app.main``)."""
    if value is None:
        monkeypatch.delenv("FACEORGANIZER_LIBRARY", raising=False)
    else:
        monkeypatch.setenv("FACEORGANIZER_LIBRARY", value)
    assert main(command) == 0
    assert opened == [(None, None)]


def test_the_window_opens_the_last_library_only_without_one_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gui.app.main``: the library it is given, else the last one used, else the default."""
    from faceorganizer.gui import app

    assert app.chosen_library(tmp_path / "given.sqlite", str(tmp_path / "last.sqlite")) \
        == tmp_path / "given.sqlite"
    assert app.chosen_library(None, str(tmp_path / "last.sqlite")) == tmp_path / "last.sqlite"
    monkeypatch.setenv("FACEORGANIZER_DATA_DIR", str(tmp_path / "data"))
    from faceorganizer.paths import default_library

    assert app.chosen_library(None, None) == default_library()
    server = "postgresql://anna@nas.local/family"
    assert app.chosen_library(server, str(tmp_path / "last.sqlite")) == server
    assert app.chosen_library(None, server) == server
