"""One embedding space: identify, verify and search never compare two sets of weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from faceorganizer.jobs import scan_and_group
from faceorganizer.models.base import Models
from faceorganizer.models.weights import ResolvedWeights
from faceorganizer.people import operations as ops
from faceorganizer.people.recognition import identify, verify
from faceorganizer.people.settings import PeopleSettings, save_settings
from faceorganizer.reembed import record
from faceorganizer.space import EmbeddingSpace, SpaceMismatchError
from faceorganizer.store import Library
from faceorganizer.store.schema import Face
from tests.fakes import FakeDetector, FakeEmbedder, face_image
from tests.test_reembed import OtherEmbedder


class Renamed(FakeEmbedder):
    space = EmbeddingSpace("fake-renamed")


@pytest.fixture
def named(tmp_path: Path, library: Library) -> tuple[Library, Path]:
    """Ann (4 photos) and Bob (3) scanned with the fake weights; Ann named. A probe photo of Ann."""
    root = tmp_path / "photos"
    for i in range(4):
        face_image(root / f"ann{i}.jpg", [(40, 40, 0)])
    for i in range(3):
        face_image(root / f"bob{i}.jpg", [(40, 40, 120)])
    models = Models(FakeDetector(), FakeEmbedder())
    for _ in scan_and_group(library, [root], lambda: models):
        pass
    with library.reader() as session:
        ann = session.scalar(select(Face.person_id).join(Face.photo).where(Face.photo.has(
            path=str(root / "ann0.jpg"))))
    assert ann is not None
    ops.rename(library, ann, "Ann")
    return library, face_image(tmp_path / "probe.jpg", [(100, 80, 0)])


def test_identify_finds_the_named_person_in_the_same_space(named) -> None:
    library, probe = named
    (found,) = identify(library, Models(FakeDetector(), FakeEmbedder()), probe, PeopleSettings())
    assert found.name == "Ann"


def test_identify_during_a_weights_switch_compares_only_re_embedded_faces(named) -> None:
    """Issue 9 item 3: after a switch, faces still embedded with the old weights must not be
    compared with a query embedded with the new ones (the old code matched them anyway)."""
    library, probe = named
    renamed = Renamed()  # other weights whose vectors happen to look like the old ones
    record(library, ResolvedWeights(Path("/w/renamed.pt"), renamed.space.model_id, builtin=False))
    (found,) = identify(library, Models(FakeDetector(), renamed), probe, PeopleSettings())
    assert (found.person, found.name) == (None, None)  # nobody is comparable yet


def test_identify_refuses_a_query_from_other_weights(named) -> None:
    library, probe = named
    with pytest.raises(SpaceMismatchError, match="cannot be compared"):
        identify(library, Models(FakeDetector(), OtherEmbedder()), probe, PeopleSettings())


class ScaledEmbedder(FakeEmbedder):
    space = EmbeddingSpace("fake-embedder-tuned", 1.25)


def test_verify_reads_its_threshold_in_the_space_of_the_weights_it_embeds_with(tmp_path: Path) -> None:
    a = face_image(tmp_path / "a.jpg", [(40, 40, 0)])
    b = face_image(tmp_path / "b.jpg", [(40, 40, 0)])
    settings = PeopleSettings(verify_threshold=1.0)
    assert verify(Models(FakeDetector(), FakeEmbedder()), a, b, settings).threshold == 1.0
    verdict = verify(Models(FakeDetector(), ScaledEmbedder()), a, b, settings)
    assert verdict.threshold == pytest.approx(1.25) and verdict.same


FAKE_LOADER = '''
from tests.fakes import fake_models


def load_models(device="auto", weights=None, **_options):
    from faceorganizer.models.weights import ResolvedWeights, resolve

    models = fake_models()  # in the space of the weights asked for, as the real embedder's
    models.embedder.space = (weights if isinstance(weights, ResolvedWeights) else resolve(weights)).space
    return models
'''


def test_verify_with_other_weights_than_the_librarys_uses_their_scale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``verify --weights FILE`` (or $FACEORGANIZER_WEIGHTS) beside a library on other weights: the
    library's own verify threshold, read in FILE's space, not the library's (the old code used the
    library's scale whatever the weights)."""
    import sys
    import types

    import torch

    from faceorganizer.cli import main
    from faceorganizer.models.weights import load_state_dict, resolve

    loader = types.ModuleType("faceorganizer.models.loader")
    exec(FAKE_LOADER, loader.__dict__)
    monkeypatch.setitem(sys.modules, "faceorganizer.models.loader", loader)
    library_path = tmp_path / "library.sqlite"
    with Library(library_path) as library:
        tuned = tmp_path / "library-weights.pt"
        torch.save({"state_dict": load_state_dict(resolve(None).path),
                    "faceorganizer": {"distance_scale": 1.1}}, tuned)
        record(library, resolve(tuned))
        save_settings(library, PeopleSettings(verify_threshold=1.0))
    other = tmp_path / "other.pt"
    torch.save({"state_dict": load_state_dict(resolve(None).path),
                "faceorganizer": {"distance_scale": 1.3}}, other)
    a = face_image(tmp_path / "a.jpg", [(40, 40, 0)])
    for how in (["--weights", str(other)], []):
        if not how:
            monkeypatch.setenv("FACEORGANIZER_WEIGHTS", str(other))
        assert main(["verify", str(a), str(a), "--library", str(library_path), *how, "--json"]) == 0
        verdict = json.loads(capsys.readouterr().out)
        assert verdict["threshold"] == pytest.approx(1.3)  # 1.0 in the space of other.pt
