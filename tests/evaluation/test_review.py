"""The simulated review: a truthful user finishes a split library within a small budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceorganizer.cli import main
from faceorganizer.evaluation.review import simulate_review
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library
from tests.fakes import add_faces, auto_people, faces_of, identities
from tests.people.test_questions import near

STRICT = PeopleSettings(merge_threshold=0.0)


def split_library(library: Library, people: int, seed: int) -> dict[int, str]:
    """``people`` people, each in a large piece and two small ones, and three strangers."""
    truth: dict[int, str] = {}
    rng = np.random.default_rng(seed)
    for i, base in enumerate(identities(people + 3, seed=seed)):
        if i >= people:
            truth[add_faces(library, [base])[0]] = f"stranger-{i}"
            continue
        pieces = [faces_of(base, int(rng.integers(8, 14)), spread=0.5, seed=seed + i)]
        pieces += [faces_of(near(base, 0.4, seed=seed * 7 + i * 3 + k), int(rng.integers(2, 5)),
                            spread=0.5, seed=seed + 100 * i + k) for k in (1, 2)]
        faces = [add_faces(library, piece) for piece in pieces]
        auto_people(library, faces)
        truth.update({f: f"person-{i}" for piece in faces for f in piece})
    return truth


@pytest.mark.parametrize("seed", [1, 2])
def test_a_truthful_user_finishes_a_split_library_within_two_answers_per_person(
        library: Library, seed: int) -> None:
    truth = split_library(library, 6, seed)
    result = simulate_review(library, truth, budget=2 * 9, settings=STRICT)
    assert result.start.bcubed_recall < 0.8 and result.start.bcubed_precision == 1.0
    assert result.end.bcubed_f >= 0.97 and result.end.bcubed_precision >= 0.99
    assert result.people_end == 6 < result.people_start
    assert result.answers <= 18 and result.curve[0] == (0, result.start.bcubed_f)
    assert [n for n, _ in result.curve] == list(range(result.answers + 1))
    # the most useful first: the first half of the answers gains more than the second
    gains = np.diff([f for _, f in result.curve])
    half = len(gains) // 2
    assert gains[:half].sum() > gains[half:].sum() > 0
    # and a regroup afterwards keeps it
    recluster(library, STRICT.with_overrides(cluster_threshold=0.5))
    again = simulate_review(library, truth, budget=0, settings=STRICT)
    assert again.start.bcubed_f == pytest.approx(result.end.bcubed_f)


def test_no_means_no_for_good(library: Library) -> None:
    """A user who answers no to everything: nothing is merged, and no question comes back."""
    truth = split_library(library, 3, seed=5)
    liar = {f: f"face-{f}" for f in truth}  # everyone a stranger: every answer is no
    result = simulate_review(library, liar, settings=STRICT)
    assert result.by_kind.get("merge_yes", 0) == 0 and result.by_kind.get("face_yes", 0) == 0
    assert simulate_review(library, liar, settings=STRICT).answers == 0


@pytest.mark.slow
def test_evaluate_review_on_real_photos(tmp_path: Path, data_dir: Path, capsys) -> None:
    """The real pipeline on three people photographed 44 to 68 times, with strangers."""
    many = data_dir / "many"
    people = sorted(p for p in many.iterdir() if len(list(p.iterdir())) > 40)[:3]
    strangers = sorted(p for p in many.iterdir() if len(list(p.iterdir())) == 1)[:10]
    folder = tmp_path / "album"
    folder.mkdir()
    for person in people + strangers:
        (folder / person.name).symlink_to(person, target_is_directory=True)
    code = main(["evaluate", "review", str(folder), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) >= {"start", "answers", "curve", "end"}
    assert out["answers"] <= 2 * 13 and out["curve"][0][0] == 0
    assert out["end"]["precision"] >= 0.99 and out["end"]["f"] >= 0.97
    assert out["end"]["f"] >= out["start"]["f"]
