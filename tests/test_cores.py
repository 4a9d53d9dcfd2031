"""Sharing the cores between faceorganizer processes: live ones count, dead ones are cleared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from faceorganizer import cores


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEORGANIZER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cores, "_registered", None)
    monkeypatch.setattr(cores, "available_cores", lambda: 4)
    return tmp_path / "running"


def test_alone_a_process_takes_every_core_and_counts_only_while_busy(running: Path) -> None:
    with cores.busy() as share:
        assert share == 4
        assert (running / str(os.getpid())).exists()
        with cores.busy() as again:  # nested: still one process
            assert again == 4
        assert (running / str(os.getpid())).exists()
    assert not (running / str(os.getpid())).exists()


def test_a_second_live_process_halves_the_share_and_a_dead_one_is_cleared(running: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        running.mkdir(parents=True)
        (running / str(other.pid)).touch()
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        (running / str(dead.pid)).touch()
        (running / "not-a-pid").touch()
        assert cores.core_share() == 2
        assert not (running / str(dead.pid)).exists()
    finally:
        other.kill()
        other.wait()
    assert cores.core_share() == 4


def test_never_less_than_one_core(running: Path) -> None:
    running.mkdir(parents=True)
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(5)]
    try:
        for sleeper in sleepers:
            (running / str(sleeper.pid)).touch()
        assert cores.core_share() == 1
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
