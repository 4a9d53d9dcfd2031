"""Real (short) training runs with the real network on LFW crops and album photos."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from faceorganizer.models.embedder import FacenetEmbedder
from faceorganizer.models.weights import distance_scale, load_state_dict, resolve
from faceorganizer.training import data
from faceorganizer.training.loss import triplet_loss
from faceorganizer.training.miner import mine
from faceorganizer.training.trainer import EpochDone, TrainConfig, TrainingError, checkpoint_path, train

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(epochs=4, batch_people=10, faces_per_person=3, lr=1e-3, views=2, seed=7, keep="last")


def lfw_people(data_dir: Path, count: int, fold: int = 1) -> list[str]:
    """The first ``count`` people of an LFW fold with at least 3 crops here."""
    folds = data.read_lfw_folds(data_dir / "lfw" / "people.txt")
    names = sorted(n for n, f in folds.items() if f == fold)
    return [n for n in names if len(list((data_dir / "lfw" / "images" / n).glob("*.jpg"))) >= 3][:count]


@pytest.fixture(scope="session")
def small_set(data_dir: Path) -> data.FaceSet:
    return data.from_folder(data_dir / "lfw", aligned=True, people=lfw_people(data_dir, 30))


@pytest.fixture(scope="session")
def trunk_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trunk-cache")


def whole_set_loss(embeddings: np.ndarray, labels: np.ndarray, margin: float) -> float:
    x, y = torch.from_numpy(embeddings), torch.from_numpy(labels)
    triplets = mine(x, y, margin)
    return float(triplet_loss(x[triplets.anchor], x[triplets.positive], x[triplets.negative], margin).mean())


def test_a_short_run_lowers_the_loss_and_its_weights_load_and_change_the_embeddings(
        tmp_path: Path, small_set: data.FaceSet, trunk_cache: Path) -> None:
    assert len(small_set.people) == 30 and len(small_set) >= 90
    builtin = resolve(None)
    out = tmp_path / "tuned.pt"
    events = []
    result = train(small_set, builtin, out, CONFIG, cache_dir=trunk_cache, report=events.append)
    losses = [r.loss for r in result.history]
    assert len(losses) == CONFIG.epochs and losses[-1] < losses[0]
    assert [e.record.epoch for e in events if isinstance(e, EpochDone)] == [1, 2, 3, 4]
    assert all(0 < r.active <= 1 for r in result.history[:1])

    # The file is a plain state dict for --weights: it loads strictly, and only the
    # trainable part moved (the folded BatchNorm layers and the trunk are untouched).
    before, after = load_state_dict(builtin.path), load_state_dict(out)
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"last_linear.weight", "last_bn.bias"}

    tuned = resolve(out)
    assert tuned.model_id.startswith("custom-")
    # Training spreads the embedding a little; the file says by how much (mean distance
    # between different people, after / before, on a fixed sample of the training faces).
    assert 1.0 < distance_scale(tuned) < 1.5
    assert distance_scale(tuned) == pytest.approx(result.extra["distance_scale"])
    old = FacenetEmbedder(builtin).embed(small_set.crops)
    new = FacenetEmbedder(tuned).embed(small_set.crops)
    assert np.abs(old - new).max() > 1e-3
    assert np.allclose(np.linalg.norm(new, axis=1), 1.0, atol=1e-5)
    assert whole_set_loss(new, small_set.labels, 0.2) < whole_set_loss(old, small_set.labels, 0.2)


def test_a_fixed_seed_repeats_and_resume_continues_where_it_stopped(
        tmp_path: Path, small_set: data.FaceSet, trunk_cache: Path) -> None:
    builtin = resolve(None)
    two = TrainConfig(**{**CONFIG.__dict__, "epochs": 2})
    one = TrainConfig(**{**CONFIG.__dict__, "epochs": 1})
    train(small_set, builtin, tmp_path / "a.pt", two, cache_dir=trunk_cache)
    train(small_set, builtin, tmp_path / "again.pt", two, cache_dir=trunk_cache)
    train(small_set, builtin, tmp_path / "b.pt", one, cache_dir=trunk_cache)
    resumed = train(small_set, builtin, tmp_path / "b.pt", two, cache_dir=trunk_cache, resume=True)
    assert [r.epoch for r in resumed.history] == [1, 2]
    a, again, b = (load_state_dict(tmp_path / f"{n}.pt") for n in ("a", "again", "b"))
    assert all(torch.equal(a[k], again[k]) for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert checkpoint_path(tmp_path / "b.pt").is_file()

    with pytest.raises(TrainingError, match="lr"):
        train(small_set, builtin, tmp_path / "b.pt", TrainConfig(**{**two.__dict__, "epochs": 3, "lr": 0.01}),
              cache_dir=trunk_cache, resume=True)
    with pytest.raises(TrainingError, match="epoch 2 already"):
        train(small_set, builtin, tmp_path / "b.pt", two, cache_dir=trunk_cache, resume=True)
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(small_set, builtin, tmp_path / "none.pt", two, cache_dir=trunk_cache, resume=True)


def test_a_folder_per_person_is_detected_cropped_and_cached(tmp_path: Path, data_dir: Path,
                                                            real_models) -> None:
    with (data_dir / "album.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if ";" not in r["identities"]]
    by_person: dict[str, list[str]] = {}
    for row in rows:
        by_person.setdefault(row["identities"], []).append(row["file"])
    chosen = sorted(p for p, files in by_person.items() if len(files) >= 4)[:3]
    root = tmp_path / "people"
    for person in chosen:
        (root / person).mkdir(parents=True)
        for name in by_person[person][:3]:
            shutil.copy(data_dir / "album" / name, root / person / name)
    (root / chosen[0] / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    shutil.copy(data_dir / "negatives" / sorted(p.name for p in (data_dir / "negatives").iterdir())[0],
                root / chosen[1] / "no-face.jpg")

    calls = []

    def detector():
        calls.append(1)
        return real_models.detector

    cache = tmp_path / "cache"
    first = data.from_folder(root, detector=detector, cache_dir=cache)
    assert first.people == chosen and len(first) == 9
    assert first.crops.shape == (9, 160, 160, 3)
    assert {Path(s).name for s, _ in first.skipped} == {"broken.jpg", "no-face.jpg"}
    assert calls == [1]
    second = data.from_folder(root, detector=detector, cache_dir=cache)
    assert calls == [1]  # every photo came from the cache
    assert np.array_equal(first.crops, second.crops) and first.fingerprint() == second.fingerprint()
    # The crops are the scan pipeline's: the same embedding as a scan of that photo.
    from faceorganizer.analysis import analyze
    from faceorganizer.settings import ScanSettings

    photo = root / chosen[0] / sorted(by_person[chosen[0]][:3])[0]
    scanned = analyze(photo.read_bytes(), real_models.detector, ScanSettings()).faces
    biggest = max(scanned, key=lambda f: f.detection.width * f.detection.height)
    assert np.array_equal(biggest.crop, first.crops[0])


def test_the_train_command_validates_on_lfw_pairs_and_reports_json(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceorganizer.cli import main

    train_people = lfw_people(data_dir, 12, fold=1)
    val_people = lfw_people(data_dir, 12, fold=10)
    root = data_dir / "lfw" / "images"
    lines = ["10\t1"]
    for i in range(10):  # one same and one different pair per fold, all unseen people
        a, b = val_people[i], val_people[(i + 1) % len(val_people)]
        lines += [f"{a}\t1\t2", f"{a}\t3\t{b}\t1"]
    numbers = {p: sorted(int(f.stem[-4:]) for f in (root / p).glob("*.jpg")) for p in val_people}
    lines = [lines[0]] + [_renumber(line, numbers) for line in lines[1:]]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    people = tmp_path / "people"
    people.mkdir()
    for person in train_people:
        (people / person).symlink_to(root / person, target_is_directory=True)
    status = main(["train", str(people), "--aligned",
                   "--out", str(tmp_path / "w.pt"), "--epochs", "2", "--views", "1", "--lr", "1e-3",
                   "--batch-people", "8", "--val-root", str(root), "--val-pairs", str(tmp_path / "pairs.txt"),
                   "--device", "cpu", "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert [h["epoch"] for h in report["history"]] == [0, 1, 2]
    assert report["history"][0]["loss"] is None and report["history"][0]["validation"]["pairs"] == 20
    assert all(0 <= h["active"] <= 1 for h in report["history"][1:])
    assert report["kept_epoch"] in (0, 1, 2) and (tmp_path / "w.pt").is_file()
    assert del_people_overlap(train_people, val_people)


def _renumber(line: str, numbers: dict[str, list[int]]) -> str:
    """Pair lines use the Nth crop that exists here (LFW numbers have gaps)."""
    fields = line.split("\t")
    if len(fields) == 3:
        return f"{fields[0]}\t{numbers[fields[0]][0]}\t{numbers[fields[0]][1]}"
    return f"{fields[0]}\t{numbers[fields[0]][2]}\t{fields[2]}\t{numbers[fields[2]][0]}"


def del_people_overlap(a: list[str], b: list[str]) -> bool:
    return not set(a) & set(b)


@pytest.mark.parametrize("trainable", ["block8", "all"])
def test_deeper_training_changes_those_layers_and_never_the_folded_batchnorm(
        tmp_path: Path, data_dir: Path, trainable: str) -> None:
    faces = data.from_folder(data_dir / "lfw", aligned=True, people=lfw_people(data_dir, 6, fold=3))
    config = TrainConfig(epochs=1, batch_people=6, faces_per_person=3, lr=1e-3, views=1,
                         trainable=trainable, margin=1.0, keep="last")
    builtin = resolve(None)
    result = train(faces, builtin, tmp_path / "deep.pt", config)
    assert result.history[0].triplets > 0 and result.history[0].loss > 0
    before, after = load_state_dict(builtin.path), load_state_dict(tmp_path / "deep.pt")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not {k for k in changed if ".bn." in k or (k.startswith("last_bn.") and k != "last_bn.bias")}
    assert "last_linear.weight" in changed and "last_bn.bias" in changed
    if trainable == "block8":
        assert {k.split(".")[0] for k in changed} == {"block8", "last_linear", "last_bn"}
    else:
        assert "conv2d_1a.conv.weight" in changed and "repeat_2.3.conv2d.bias" in changed
