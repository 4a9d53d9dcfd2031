"""``faceorganizer questions`` and ``apart``: the JSON contract and answers from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faceorganizer.cli import main
from faceorganizer.people.settings import PeopleSettings, save_settings
from faceorganizer.store import Library
from tests.fakes import add_faces, auto_people, faces_of, identities
from tests.people.test_questions import near

STRICT = PeopleSettings(merge_threshold=0.0)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def questions(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> list[dict]:
    code, out, err = run(capsys, "questions", "--library", str(path), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def split(tmp_path: Path):
    """One person in two pieces, a stranger, and an unsorted face between the pieces."""
    path = tmp_path / "library.sqlite"
    base, other = identities(2, seed=31)
    with Library(path) as library:
        save_settings(library, STRICT)
        big = add_faces(library, faces_of(base, 8, spread=0.5, seed=1))
        small = add_faces(library, faces_of(near(base, 0.4, seed=2), 3, spread=0.5, seed=2))
        stranger = add_faces(library, faces_of(other, 3, spread=0.5, seed=3))
        loose = add_faces(library, [near(base, 1.0, seed=4)])
        auto_people(library, [big, small, stranger])
    return path, big, small, stranger, loose[0]


def person_of(capsys, path: Path, face: int) -> int | None:
    _, out, _ = run(capsys, "faces", "--library", str(path), "--json")
    return {f["id"]: f["person"] for f in json.loads(out)}[face]


def test_questions_json_contract_and_answers(split, capsys) -> None:
    path, big, small, _, _ = split
    found = questions(capsys, path)
    assert found, "a split person must give questions"
    for q in found:
        if q["kind"] == "merge":
            assert set(q) == {"kind", "person", "into", "distance"}
        else:
            assert q["kind"] == "face" and set(q) == {"kind", "face", "person", "distance"}
        assert isinstance(q["distance"], float)
    first = found[0]
    assert first["kind"] == "merge"
    people = {p["id"] for p in json.loads(run(capsys, "people", "--library", str(path), "--json")[1])}
    faces = {f["id"] for f in json.loads(run(capsys, "faces", "--library", str(path), "--json")[1])}
    for q in found:
        assert q["into"] in people if q["kind"] == "merge" else q["person"] in people
        assert q["kind"] == "merge" or q["face"] in faces
    assert (first["person"], first["into"]) == (person_of(capsys, path, small[0]),
                                                person_of(capsys, path, big[0]))
    assert questions(capsys, path, "--limit", "1") == found[:1]

    lib = ["--library", str(path)]
    assert run(capsys, "apart", *lib, str(first["person"]), str(first["into"]))[0] == 0
    assert all(q["kind"] != "merge" or {q["person"], q["into"]} != {first["person"], first["into"]}
               for q in questions(capsys, path))
    assert run(capsys, "cluster", *lib)[0] == 0
    assert person_of(capsys, path, small[0]) != person_of(capsys, path, big[0])
    code, out, _ = run(capsys, "apart", *lib, str(first["person"]), str(first["into"]), "--take-back")
    assert code == 0 and "asked about again" in out
    assert questions(capsys, path)[0] == first
    assert run(capsys, "merge", *lib, str(first["person"]), str(first["into"]))[0] == 0
    assert all(q["kind"] == "face" for q in questions(capsys, path))


def test_no_to_an_unsorted_face_is_remembered(split, capsys) -> None:
    path, _, _, _, loose = split
    asked = [q for q in questions(capsys, path) if q["kind"] == "face" and q["face"] == loose]
    assert asked, "the face between the pieces is asked about"
    code, out, _ = run(capsys, "reject", "--library", str(path), str(loose))
    assert code == 0 and f"not person {asked[0]['person']}" in out
    assert all((q.get("face"), q["person"]) != (loose, asked[0]["person"]) for q in questions(capsys, path))


def test_text_output_and_errors(split, capsys) -> None:
    path = split[0]
    code, out, _ = run(capsys, "questions", "--library", str(path))
    assert code == 0 and "Same person?" in out and "questions open" in out
    code, _, err = run(capsys, "apart", "--library", str(path), "1", "1")
    assert code == 2 and "itself" in err
    code, _, err = run(capsys, "apart", "--library", str(path), "1", "999")
    assert code == 2 and "no person 999" in err
    code, _, err = run(capsys, "questions", "--library", str(path), "--limit", "-1")
    assert code == 2
    code, _, err = run(capsys, "questions", "--library", str(path.parent / "none.sqlite"))
    assert code == 2
