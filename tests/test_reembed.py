"""Switching a library's weights: every face re-embedded, every user decision kept."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import select

from faceorganizer import reembed as reembed_module
from faceorganizer.jobs import reembed_and_group, scan_and_group
from faceorganizer.models.base import Models
from faceorganizer.models.weights import ResolvedWeights, WeightsError, load_state_dict, resolve
from faceorganizer.people import operations as ops
from faceorganizer.reembed import (
    ReembedFinished,
    ReembedProgress,
    library_weights,
    record,
    recorded_weights,
    stale_faces,
)
from faceorganizer.space import EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.people import apart_pairs, face_table
from faceorganizer.store.schema import Face, Person, Rejection
from tests.fakes import FakeDetector, FakeEmbedder, face_image


class OtherEmbedder(FakeEmbedder):
    """Other "weights": the same idea with other random features."""

    space = EmbeddingSpace("fake-other")

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(1)
        self.frequencies = rng.normal(scale=1.0 / self.BANDWIDTH, size=self.frequencies.shape)
        self.phases = rng.uniform(0, 2 * np.pi, size=self.phases.shape)


def weights(model_id: str) -> ResolvedWeights:
    return ResolvedWeights(path=Path(f"/weights/{model_id}.pt"), model_id=model_id, builtin=False)


def state(library: Library) -> dict:
    with library.reader() as session:
        faces = session.execute(select(Face.id, Face.person_id, Face.state, Face.embedding_model,
                                       Face.embedding)).all()
        return {"people": {p.id: (p.name, p.hidden) for p in session.scalars(select(Person))},
                "faces": {f.id: (f.person_id, f.state) for f in faces},
                "models": {f.embedding_model for f in faces},
                "embeddings": {f.id: f.embedding for f in faces},
                "rejections": set(session.execute(select(Rejection.face_id, Rejection.person_id)).all())}


@pytest.fixture
def scanned(tmp_path: Path, library: Library) -> Library:
    root = tmp_path / "photos"
    for i in range(4):
        face_image(root / f"ann{i}.jpg", [(40, 40, 0)])
    for i in range(3):
        face_image(root / f"bob{i}.jpg", [(40, 40, 120)])
    face_image(root / "ann-and-bob.jpg", [(20, 40, 0), (200, 60, 120)])
    models = Models(FakeDetector(), FakeEmbedder())
    for _ in scan_and_group(library, [root], lambda: models):
        pass
    record(library, weights(FakeEmbedder.space.model_id))
    return library


def decide(library: Library) -> None:
    ann, bob = people_by_size(library)[:2]
    with library.reader() as session:
        ann_faces = list(session.scalars(select(Face.id).where(Face.person_id == ann)))
    ops.rename(library, ann, "Ann")
    ops.set_hidden(library, bob, True)
    ops.reject(library, ann_faces[:1])
    ops.apart(library, ann, bob)


def people_by_size(library: Library) -> list[int]:
    with library.reader() as session:
        rows = session.execute(select(Face.person_id)).scalars().all()
    counts: dict[int, int] = {}
    for person in rows:
        if person is not None:
            counts[person] = counts.get(person, 0) + 1
    return sorted(counts, key=lambda p: -counts[p])


def test_a_switch_re_embeds_every_face_and_keeps_names_confirmations_and_rejections(
        scanned: Library) -> None:
    decide(scanned)
    before = state(scanned)
    assert before["models"] == {"fake-embedder"}
    record(scanned, weights("fake-other"))
    assert stale_faces(scanned) == len(before["faces"]) == 9
    with scanned.reader() as session:
        assert len(face_table(session).ids) == 0  # stale faces are not compared meanwhile

    events = list(reembed_and_group(scanned, lambda: Models(FakeDetector(), OtherEmbedder())))
    finished = [e.summary for e in events if isinstance(e, ReembedFinished)]
    assert finished[0].faces == 9 and finished[0].unreadable == 0 and not finished[0].cancelled
    after = state(scanned)
    assert after["models"] == {"fake-other"} and stale_faces(scanned) == 0
    assert after["people"] == before["people"]
    assert after["faces"] == before["faces"]
    assert after["rejections"] == before["rejections"] and after["rejections"]
    with scanned.reader() as session:
        assert apart_pairs(session) == {tuple(sorted(people_by_size(scanned)[:2]))}
    changed = [i for i in before["embeddings"]
               if not np.allclose(before["embeddings"][i], after["embeddings"][i])]
    assert len(changed) == 9
    with scanned.reader() as session:
        assert len(face_table(session).ids) == 9


def test_an_interrupted_switch_goes_on_where_it_stopped(scanned: Library, monkeypatch) -> None:
    monkeypatch.setattr(reembed_module, "PHOTOS_PER_COMMIT", 2)
    record(scanned, weights("fake-other"))
    cancel = threading.Event()
    embedder = OtherEmbedder()
    events = []
    for event in reembed_and_group(scanned, lambda: Models(FakeDetector(), embedder), cancel=cancel):
        events.append(event)
        if isinstance(event, ReembedProgress) and event.done > 0:
            cancel.set()
    summary = next(e.summary for e in events if isinstance(e, ReembedFinished))
    assert summary.cancelled and summary.faces == 3  # ann-and-bob.jpg and ann0.jpg
    assert stale_faces(scanned) == 6
    list(reembed_and_group(scanned, lambda: Models(FakeDetector(), embedder)))
    assert stale_faces(scanned) == 0 and state(scanned)["models"] == {"fake-other"}


def test_faces_of_a_missing_photo_stay_stale_and_out_of_grouping(scanned: Library, tmp_path: Path) -> None:
    (tmp_path / "photos" / "ann0.jpg").unlink()
    record(scanned, weights("fake-other"))
    events = list(reembed_and_group(scanned, lambda: Models(FakeDetector(), OtherEmbedder())))
    summary = next(e.summary for e in events if isinstance(e, ReembedFinished))
    assert (summary.faces, summary.unreadable) == (8, 1)
    assert stale_faces(scanned) == 1
    with scanned.reader() as session:
        assert len(face_table(session).ids) == 8


def test_the_wrong_weights_are_refused(scanned: Library) -> None:
    record(scanned, weights("fake-other"))
    with pytest.raises(WeightsError, match="fake-embedder"):
        list(reembed_and_group(scanned, lambda: Models(FakeDetector(), FakeEmbedder())))


def test_library_weights_records_switches_and_refuses_a_silent_mismatch(library: Library,
                                                                         tmp_path: Path) -> None:
    builtin = library_weights(library)
    assert builtin.builtin
    assert recorded_weights(library).as_dict() == {"path": None, "model_id": builtin.model_id}
    other = tmp_path / "other.pt"
    torch.save(load_state_dict(builtin.path), other)
    with pytest.raises(WeightsError, match="weights use"):
        library_weights(library, other, switch=False)
    switched = library_weights(library, other)
    assert recorded_weights(library).as_dict() == {"path": str(other), "model_id": switched.model_id}
    assert library_weights(library).model_id == switched.model_id  # remembered
    other.unlink()
    with pytest.raises(WeightsError, match="cannot be found"):
        library_weights(library)
    assert resolve(None).builtin


@pytest.mark.slow
def test_real_weights_switch_on_the_album_keeps_the_names(album_copy: Path, tmp_path: Path) -> None:
    """The real models: a changed bottleneck re-embeds all 72 album faces."""
    from faceorganizer.models.loader import load_models

    builtin = resolve(None)
    tuned = load_state_dict(builtin.path)
    generator = torch.Generator().manual_seed(0)
    tuned["last_linear.weight"] = tuned["last_linear.weight"] * (
        1 + 0.05 * torch.randn(tuned["last_linear.weight"].shape, generator=generator))
    path = tmp_path / "tuned.pt"
    torch.save({"state_dict": tuned}, path)
    with Library(album_copy) as library:
        library_weights(library)  # the album was scanned with the built-in weights
        person = people_by_size(library)[0]
        ops.rename(library, person, "Most photographed")
        before = state(library)
        resolved = library_weights(library, path)
        events = list(reembed_and_group(library, lambda: load_models("cpu", resolved)))
        after = state(library)
    summary = next(e.summary for e in events if isinstance(e, ReembedFinished))
    assert summary.faces == len(before["faces"]) and summary.unreadable == 0
    assert after["models"] == {resolved.model_id}
    assert after["people"][person] == ("Most photographed", False)
    named = {f for f, (p, _) in before["faces"].items() if p == person}
    assert {f for f, (p, _) in after["faces"].items() if p == person} == named
    moved = [np.sum((before["embeddings"][f] - after["embeddings"][f]) ** 2) for f in before["faces"]]
    assert 1e-4 < float(np.median(moved)) < 0.5  # re-embedded, and still the same kind of vector


def test_people_thresholds_follow_the_distance_scale_of_the_weights(library: Library, tmp_path: Path) -> None:
    from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings, shown_settings

    builtin = resolve(None)
    tuned = tmp_path / "tuned.pt"
    torch.save({"state_dict": load_state_dict(builtin.path),
                "faceorganizer": {"distance_scale": 1.1}}, tuned)
    save_settings(library, PeopleSettings(cluster_threshold=0.8))
    library_weights(library, tuned)
    assert recorded_weights(library).space.distance_scale == pytest.approx(1.1)
    assert load_settings(library) == PeopleSettings(cluster_threshold=0.8)  # kept in built-in units
    effective = shown_settings(library)  # read in the library's space
    assert effective.cluster_threshold == pytest.approx(0.88)
    assert effective.verify_threshold == pytest.approx(1.243)
    assert effective.isolation == PeopleSettings().isolation  # ratios are not distances
    # a value set as shown (0.99 in the tuned space) is kept in built-in units, without drift
    save_settings(library, load_settings(library).with_shown(recorded_weights(library).space,
                                                             cluster_threshold=0.99))
    assert shown_settings(library).cluster_threshold == pytest.approx(0.99)
    library_weights(library, builtin.path)  # back to the built-in weights
    assert shown_settings(library).cluster_threshold == pytest.approx(0.9)
