"""The people of ../shared/data/album, found by the real models end to end."""

from __future__ import annotations

import csv
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from faceorganizer.evaluation.metrics import score
from faceorganizer.jobs import scan_and_group
from faceorganizer.people import operations as ops
from faceorganizer.people.recognition import identify
from faceorganizer.people.search import FaceIndex
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library
from faceorganizer.store.read import people_and_faces as list_people
from faceorganizer.store.schema import Face, Photo

pytestmark = pytest.mark.slow


def album_truth(data_dir: Path) -> dict[str, list[str]]:
    with (data_dir / "album.csv").open() as handle:
        return {row["file"]: row["identities"].split(";") for row in csv.DictReader(handle)}


def largest_faces(library: Library) -> dict[str, tuple[int, int | None]]:
    """photo file name -> (face id, person id) of its largest face"""
    with library.reader() as session:
        rows = session.execute(select(Photo.path, Face.id, Face.person_id, Face.x1, Face.y1,
                                      Face.x2, Face.y2).join(Face)).all()
    best: dict[str, tuple[float, int, int | None]] = {}
    for path, face, person, x1, y1, x2, y2 in rows:
        name, area = os.path.basename(path), (x2 - x1) * (y2 - y1)
        if name not in best or area > best[name][0]:
            best[name] = (area, face, person)
    return {name: (face, person) for name, (_, face, person) in best.items()}


def test_the_portraits_of_13_identities_are_13_people(album_library: Path, data_dir: Path) -> None:
    truth = album_truth(data_dir)
    with Library(album_library) as library:
        largest = largest_faces(library)
    portraits = sorted(name for name, ids in truth.items() if len(ids) == 1)
    assert len(portraits) == 62
    predicted = [largest[name][1] for name in portraits]
    assert None not in predicted  # every portrait is in a person
    s = score(predicted, [truth[name][0] for name in portraits])
    assert s.bcubed_f == 1.0 and s.clusters == s.classes == 13


def test_searching_with_a_portrait_ranks_that_persons_photos_first(album_library: Path,
                                                                   data_dir: Path) -> None:
    truth = album_truth(data_dir)
    counts = Counter(ids[0] for ids in truth.values() if len(ids) == 1)
    with Library(album_library) as library:
        largest = largest_faces(library)
        index = FaceIndex.load(library)
    checked = 0
    for name, ids in truth.items():
        if len(ids) != 1 or counts[ids[0]] < 4:
            continue
        person = ids[0]
        theirs = {photo for photo, who in truth.items() if person in who}
        hits = index.search(index.embedding_of(largest[name][0]), top=100, threshold=None)
        ranked = [os.path.basename(h.photo) for h in hits]
        assert set(ranked[:len(theirs)]) == theirs, (name, ranked[:len(theirs) + 2])
        checked += 1
    assert checked == 53  # every portrait of the 9 identities with 4 or more photos


def test_naming_then_identifying_a_photo(album_copy: Path, data_dir: Path, real_models) -> None:
    truth = album_truth(data_dir)
    with Library(album_copy) as library:
        largest = largest_faces(library)
        for name, (_, person) in largest.items():
            if truth[name] == ["Angelina_Jolie"]:
                ops.rename(library, person, "Angelina Jolie")
                break
        found = identify(library, real_models, data_dir / "album" / "couple.jpg", PeopleSettings())
    names = sorted(f.name or "?" for f in found)
    assert names == ["?", "Angelina Jolie"]


def test_names_survive_a_rescan_with_new_photos(tmp_path: Path, data_dir: Path, real_models) -> None:
    """Name people in a first batch; a second batch and a re-clustering keep every decision."""
    truth = album_truth(data_dir)
    folder = tmp_path / "photos"
    folder.mkdir()
    first = ["img1.jpg", "img2.jpg", "img4.jpg", "img13.jpg", "img14.jpg", "img15.jpg",
             "img29.jpg", "img30.jpg"]  # Jolie, Zuckerberg, Damon
    later = ["img5.jpg", "img6.jpg", "img57.jpg", "img31.jpg", "img32.jpg",  # more of them
             "img47.jpg", "img48.jpg", "img49.jpg"]  # and Johansson, new
    for name in first:
        shutil.copy(data_dir / "album" / name, folder / name)
    with Library(tmp_path / "library.sqlite") as library:
        for _ in scan_and_group(library, [folder], lambda: real_models):
            pass
        largest = largest_faces(library)
        named = {}
        for label, sample in [("Angelina", "img1.jpg"), ("Mark", "img13.jpg")]:
            person = largest[sample][1]
            assert person is not None
            ops.rename(library, person, label)
            named[label] = person
        with library.reader() as session:
            before = {p.id: (p.name, {f.id for f in p.faces}) for p in list_people(session)}

        for name in later:
            shutil.copy(data_dir / "album" / name, folder / name)
        for _ in scan_and_group(library, [folder], lambda: real_models):
            pass
        with library.reader() as session:
            after = {p.id: p for p in list_people(session)}
        largest = largest_faces(library)
    for label, person in named.items():
        name, faces = before[person]
        assert after[person].name == name == label
        kept = {f.id for f in after[person].faces if f.state == "confirmed"}
        assert kept == faces  # nothing confirmed moved
    # The new photos of named people wait as suggestions; a new person appears unnamed.
    for sample, label in [("img5.jpg", "Angelina"), ("img6.jpg", "Angelina"), ("img57.jpg", "Mark")]:
        face, person = largest[sample]
        assert person == named[label]
        assert next(f.state for f in after[person].faces if f.id == face) == "suggested"
    scarlett = {largest[n][1] for n in ("img47.jpg", "img48.jpg", "img49.jpg")}
    assert len(scarlett) == 1 and after[scarlett.pop()].name is None
    assert truth["img47.jpg"] == ["Scarlett_Johansson"]
