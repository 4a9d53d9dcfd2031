"""Personalising: trained on some confirmed people, checked on the others, then used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faceorganizer.models.weights import resolve
from faceorganizer.people import operations as ops
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.reembed import recorded_weights, stale_faces
from faceorganizer.store import Library
from faceorganizer.training import data
from faceorganizer.training.personalize import personalize, split_people
from faceorganizer.training.trainer import TrainConfig, TrainingError
from tests.people.test_album_people import album_truth, largest_faces
from tests.training.test_trainer import lfw_people

pytestmark = pytest.mark.slow


def test_held_out_people_are_never_trained_on_and_a_worse_result_is_refused(
        tmp_path: Path, data_dir: Path) -> None:
    faces = data.from_folder(data_dir / "lfw", aligned=True, people=lfw_people(data_dir, 12, fold=2))
    train_mask, held_mask = split_people(faces, 0.25, seed=3)
    assert not (train_mask & held_mask).any() and (train_mask | held_mask).all()
    held_people = set(faces.labels[held_mask].tolist())
    assert len(held_people) == 3 and not held_people & set(faces.labels[train_mask].tolist())

    config = TrainConfig(epochs=2, batch_people=9, faces_per_person=3, lr=1e-3, views=1, seed=3)
    # A tolerance below zero demands a strict improvement on both scores: the result
    # must then be refused with its reasons, or accepted only if both really improved.
    result = personalize(faces, resolve(None), tmp_path / "p.pt", config, PeopleSettings(),
                         tolerance=-1.0, cache_dir=tmp_path / "cache")
    assert (result.trained_people, result.held_out_people) == (9, 3)
    assert not result.accepted and len(result.reasons) == 2
    assert result.training.dataset["people"] == 9
    assert 0 <= result.before.bcubed_f <= 1 and 0 <= result.after.pair_accuracy <= 1
    assert result.before.lookalike_distance > 0 and (tmp_path / "p.pt").is_file()

    with pytest.raises(TrainingError, match="at least 4"):
        split_people(faces.subset(faces.labels < 3), 0.25, seed=0)


def test_personalize_on_the_album_switches_the_library_and_keeps_the_names(
        album_copy: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceorganizer.cli import main

    truth = album_truth(data_dir)
    with Library(album_copy) as library:
        faces = largest_faces(library)
        by_person: dict[str, list[int]] = {}
        for name, ids in truth.items():
            if len(ids) == 1 and name in faces:
                by_person.setdefault(ids[0], []).append(faces[name][0])
        named = {name: ops.create_person(library, ids, name) for name, ids in by_person.items()}
    out = tmp_path / "personal.pt"
    status = main(["personalize", "--library", str(album_copy), "--epochs", "3", "--lr", "1e-3",
                   "--out", str(out), "--device", "cpu", "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["held_out_people"] >= 2 and report["trained_people"] >= 2
    assert report["trained_people"] + report["held_out_people"] == sum(
        1 for ids in by_person.values() if len(ids) >= 2)
    with Library(album_copy) as library:
        if report["accepted"]:
            assert recorded_weights(library) == {"path": str(out), "model_id": resolve(out).model_id}
            assert report["switched"]["faces"] == 72 and stale_faces(library) == 0
        else:
            assert report["reasons"] and report["switched"] is None
        from faceorganizer.store.read import people_and_faces as list_people

        with library.reader() as session:
            names = {p.id: p.name for p in list_people(session)}
    assert all(names[pid] == name for name, pid in named.items())
