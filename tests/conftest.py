"""Shared fixtures: the real photos in ../shared/data, an isolated user folder, fake models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEORGANIZER_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data``. Missing data fails the test loudly; it never passes silently."""
    if not (DATA / "album.csv").is_file():
        pytest.fail(f"The test photos are missing: expected {DATA} (the shared/data folder beside "
                    "the checkout, or set FACEORGANIZER_TEST_DATA).", pytrace=False)
    return DATA


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the user's own library; the weights cache stays shared."""
    monkeypatch.setenv("FACEORGANIZER_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))
    monkeypatch.delenv("FACEORGANIZER_LIBRARY", raising=False)
    monkeypatch.delenv("FACEORGANIZER_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (:mod:`tests.postgres`). Where none can be
    started the test is skipped, and the reason is printed in the summary (``-ra``)."""
    from tests import postgres

    server = postgres.start()
    if isinstance(server, str):
        pytest.skip(f"PostgreSQL tests skipped: {server}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def library(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty library, once as a file and once on a PostgreSQL server: the same tests run
    against both."""
    from faceorganizer.store import Library

    if request.param == "postgresql":
        address = request.getfixturevalue("postgres_server").new_database()
    else:
        address = str(tmp_path / "library.sqlite")
    lib = Library(address)
    yield lib
    lib.close()


@pytest.fixture
def fake_models():
    from tests.fakes import fake_models as make

    return make()


@pytest.fixture(scope="session")
def real_models():
    """MTCNN and FaceNet with the built-in weights, on the CPU (loaded once)."""
    from faceorganizer.models.loader import load_models

    return load_models("cpu", workers=1)


@pytest.fixture(scope="session")
def album_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, real_models):
    """``../shared/data/album`` scanned with the real models and grouped into people, once.
    Tests must not change it (copy it with ``album_copy`` to make decisions)."""
    from faceorganizer.jobs import scan_and_group
    from faceorganizer.store import Library

    path = tmp_path_factory.mktemp("album") / "library.sqlite"
    with Library(path) as library:
        for _ in scan_and_group(library, [data_dir / "album"], lambda: real_models):
            pass
    return path


@pytest.fixture
def album_copy(album_library: Path, tmp_path: Path) -> Path:
    """A private copy of the scanned album library."""
    import sqlite3

    target = tmp_path / "album.sqlite"
    source = sqlite3.connect(album_library)
    dest = sqlite3.connect(target)
    source.backup(dest)
    dest.close()
    source.close()
    return target
