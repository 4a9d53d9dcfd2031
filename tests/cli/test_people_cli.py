"""The people commands of the command line and their JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faceorganizer.cli import main
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library
from tests.fakes import add_faces, faces_of, identities


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def people_json(capsys: pytest.CaptureFixture[str], library: Path) -> list[dict]:
    code, out, _ = run(capsys, "people", "--library", str(library), "--json")
    assert code == 0
    return json.loads(out)


@pytest.fixture
def grouped(tmp_path: Path):
    path = tmp_path / "library.sqlite"
    d = identities(3, seed=51)
    with Library(path) as library:
        a = add_faces(library, faces_of(d[0], 4, seed=1))
        b = add_faces(library, faces_of(d[1], 3, seed=2))
        stranger = add_faces(library, d[2:3])
        recluster(library, PeopleSettings())
    return path, a, b, stranger


def test_people_json_contract(grouped, capsys) -> None:
    path, a, _, stranger = grouped
    people = people_json(capsys, path)
    assert len(people) == 2  # the stranger is unsorted, not a person
    first = people[0]
    assert set(first) == {"id", "name", "hidden", "faces"}
    assert first["name"] is None and first["hidden"] is False
    assert set(first["faces"][0]) == {"id", "photo", "box", "state"}
    assert {f["id"] for f in first["faces"]} == set(a)
    assert {f["state"] for f in first["faces"]} == {"auto"}
    _, out, _ = run(capsys, "faces", "--library", str(path), "--json")
    persons = {f["id"]: f["person"] for f in json.loads(out)}
    assert persons[a[0]] == first["id"] and persons[stranger[0]] is None


def test_decisions_from_the_command_line(grouped, capsys) -> None:
    path, a, b, stranger = grouped
    lib = ["--library", str(path)]
    ann, bob = (p["id"] for p in people_json(capsys, path))
    assert run(capsys, "name", *lib, str(ann), "Ann")[0] == 0
    (named,) = [p for p in people_json(capsys, path) if p["id"] == ann]
    assert named["name"] == "Ann" and {f["state"] for f in named["faces"]} == {"confirmed"}

    assert run(capsys, "move", *lib, str(stranger[0]), str(ann))[0] == 0
    assert run(capsys, "reject", *lib, str(stranger[0]))[0] == 0
    assert run(capsys, "move", *lib, str(b[0]), "new")[0] == 0
    assert run(capsys, "hide", *lib, str(bob))[0] == 0
    hidden = [p for p in people_json(capsys, path) if p["id"] == bob]
    assert hidden and hidden[0]["hidden"] is True
    assert run(capsys, "unhide", *lib, str(bob))[0] == 0
    assert run(capsys, "merge", *lib, str(bob), str(ann))[0] == 0
    people = {p["id"]: p for p in people_json(capsys, path)}
    assert bob not in people and {f["id"] for f in people[ann]["faces"]} == set(a) | set(b[1:])
    assert run(capsys, "ignore", *lib, str(a[0]))[0] == 0
    assert a[0] not in {f["id"] for p in people_json(capsys, path) for f in p["faces"]}
    assert run(capsys, "confirm", *lib, str(a[1]))[0] == 0

    code, _, err = run(capsys, "merge", *lib, "12345", str(ann))
    assert code == 2 and "no person 12345" in err
    code, _, err = run(capsys, "reject", *lib, str(stranger[0]))
    assert code == 2 and "no person" in err and "--person" in err


def test_cluster_command_keeps_its_settings(grouped, capsys) -> None:
    path, *_ = grouped
    code, out, _ = run(capsys, "cluster", "--library", str(path), "--min-faces", "4", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["people"] == 1 and result["settings"]["min_faces"] == 4
    code, out, _ = run(capsys, "cluster", "--library", str(path), "--json")
    assert json.loads(out)["settings"]["min_faces"] == 4


def test_search_by_library_face_json(grouped, capsys) -> None:
    path, a, *_ = grouped
    code, out, _ = run(capsys, "search", "--library", str(path), "--face", str(a[0]), "--json")
    assert code == 0
    hits = json.loads(out)
    assert set(hits[0]) == {"photo", "face", "distance"}
    assert hits[0]["face"] == a[0] and {h["face"] for h in hits} == set(a)
    code, out, _ = run(capsys, "search", "--library", str(path), "--face", str(a[0]), "--top", "2",
                       "--json")
    assert len(json.loads(out)) == 2


@pytest.mark.slow
def test_search_verify_and_identify_with_photos(album_copy: Path, data_dir: Path, capsys) -> None:
    album = data_dir / "album"
    lib = ["--library", str(album_copy)]
    code, out, _ = run(capsys, "search", *lib, "--image", str(album / "img8.jpg"), "--json")
    assert code == 0
    hits = json.loads(out)
    scarlett = {"img8.jpg", "img9.jpg", "img47.jpg", "img48.jpg", "img49.jpg", "img50.jpg", "img51.jpg"}
    assert {Path(h["photo"]).name for h in hits[:7]} == scarlett

    code, out, _ = run(capsys, "verify", str(album / "img8.jpg"), str(album / "img9.jpg"), "--json")
    verdict = json.loads(out)
    assert set(verdict) == {"distance", "threshold", "same"} and verdict["same"] is True
    code, out, _ = run(capsys, "verify", str(album / "img8.jpg"), str(album / "img18.jpg"), "--json")
    assert json.loads(out)["same"] is False

    (person,) = {p["id"] for p in people_json(capsys, album_copy)
                 if any(Path(f["photo"]).name == "img8.jpg" for f in p["faces"])}
    run(capsys, "name", *lib, str(person), "Scarlett")
    code, out, _ = run(capsys, "identify", *lib, str(album / "img47.jpg"), "--json")
    (face,) = json.loads(out)
    assert set(face) == {"box", "person", "name", "distance"}
    assert (face["person"], face["name"]) == (person, "Scarlett") and face["distance"] < 1.0

    code, _, err = run(capsys, "verify", str(data_dir / "negatives" / "opencv_baboon.jpg"),
                       str(album / "img8.jpg"))
    assert code == 2 and "No face was found" in err
