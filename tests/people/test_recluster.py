"""Grouping a library into people around the user's decisions, which nothing automatic undoes."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from faceorganizer.people import operations as ops
from faceorganizer.people import recluster as recluster_module
from faceorganizer.people.operations import PeopleError
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings
from faceorganizer.store import Library
from faceorganizer.store.read import people_and_faces as list_people
from faceorganizer.store.schema import Face, Person, Rejection
from tests.fakes import add_faces, faces_of, identities

SETTINGS = PeopleSettings()


def people_of(library: Library) -> dict[int, set[int]]:
    """person id -> its face ids"""
    with library.reader() as session:
        return {p.id: {f.id for f in p.faces} for p in list_people(session)}


def states(library: Library) -> dict[int, tuple[int | None, str]]:
    with library.reader() as session:
        return {f.id: (f.person_id, f.state) for f in session.scalars(select(Face))}


def person_with(library: Library, face_id: int) -> int:
    return states(library)[face_id][0]  # type: ignore[return-value]


@pytest.fixture
def family(library: Library) -> tuple[Library, dict[str, list[int]]]:
    """Three people (8, 6 and 5 faces) and two strangers seen once."""
    d = identities(5, seed=21)
    faces = {
        "ann": add_faces(library, faces_of(d[0], 8, seed=1)),
        "bob": add_faces(library, faces_of(d[1], 6, seed=2)),
        "cat": add_faces(library, faces_of(d[2], 5, seed=3)),
        "x": add_faces(library, d[3:4]),
        "y": add_faces(library, d[4:5]),
    }
    recluster(library, SETTINGS)
    return library, faces


def test_faces_are_grouped_into_people_and_strangers_stay_unsorted(family) -> None:
    library, faces = family
    groups = sorted(people_of(library).values(), key=len, reverse=True)
    assert groups == [set(faces["ann"]), set(faces["bob"]), set(faces["cat"])]
    assert person_with(library, faces["x"][0]) is None
    assert {s for _, s in states(library).values()} == {"auto"}


def test_min_faces_and_quality_gate(library: Library) -> None:
    d = identities(3, seed=5)
    pair = add_faces(library, faces_of(d[0], 2, seed=1))
    blurry = add_faces(library, faces_of(d[1], 4, seed=2), probability=0.8)
    tiny = add_faces(library, faces_of(d[2], 4, seed=3), size=20)
    summary = recluster(library, SETTINGS)
    assert summary.people == 1 and summary.unsorted == 8
    assert people_of(library) == {person_with(library, pair[0]): set(pair)}
    lax = SETTINGS.with_overrides(min_faces=3, gate_min_probability=0.5, gate_min_size=10)
    recluster(library, lax)
    groups = sorted(people_of(library).values(), key=min)
    assert groups == [set(blurry), set(tiny)]


def test_person_ids_are_stable_across_reclustering(family) -> None:
    library, faces = family
    before = {name: person_with(library, ids[0]) for name, ids in faces.items() if len(ids) > 1}
    more = add_faces(library, faces_of(identities(5, seed=21)[1], 3, seed=9))
    summary = recluster(library, SETTINGS)
    after = {name: person_with(library, ids[0]) for name, ids in faces.items() if len(ids) > 1}
    assert after == before and summary.new_people == 0
    assert all(person_with(library, f) == before["bob"] for f in more)


def test_naming_confirms_and_anchors_a_person(family) -> None:
    library, faces = family
    ann = person_with(library, faces["ann"][0])
    ops.rename(library, ann, "  Ann   Smith ")
    with library.reader() as session:
        assert session.get(Person, ann).name == "Ann Smith"
    assert {states(library)[f] for f in faces["ann"]} == {(ann, "confirmed")}
    # Re-clustering with settings that would merge everyone leaves Ann exactly as she is.
    loose = SETTINGS.with_overrides(cluster_threshold=3.9, match_threshold=0.1)
    recluster(library, loose)
    assert people_of(library)[ann] == set(faces["ann"])
    with pytest.raises(PeopleError, match="empty"):
        ops.rename(library, ann, "   ")


def test_new_faces_near_a_named_person_are_suggested_then_confirmed(family) -> None:
    library, faces = family
    ann = person_with(library, faces["ann"][0])
    ops.rename(library, ann, "Ann")
    new = add_faces(library, faces_of(identities(5, seed=21)[0], 3, seed=7))
    summary = recluster(library, SETTINGS)
    assert summary.suggestions == 3
    assert {states(library)[f] for f in new} == {(ann, "suggested")}
    with library.reader() as session:
        (row,) = [p for p in list_people(session) if p.id == ann]
        assert row.suggestions == 3
    assert ops.confirm(library, new[:1]) == 1
    assert states(library)[new[0]] == (ann, "confirmed")
    assert ops.confirm_suggestions(library, ann) == 2
    assert {states(library)[f] for f in new} == {(ann, "confirmed")}


def test_a_rejected_face_is_never_suggested_for_that_person_again(family) -> None:
    library, faces = family
    ann = person_with(library, faces["ann"][0])
    ops.rename(library, ann, "Ann")
    (new,) = add_faces(library, faces_of(identities(5, seed=21)[0], 1, seed=8))
    recluster(library, SETTINGS)
    assert states(library)[new] == (ann, "suggested")
    ops.reject(library, [new])
    assert states(library)[new] == (None, "auto")
    for _ in range(2):
        recluster(library, SETTINGS)
        assert states(library)[new][0] != ann
    with library.reader() as session:
        assert session.get(Rejection, (new, ann)) is not None


def test_rejecting_from_an_unnamed_person_sticks(family) -> None:
    library, faces = family
    bob = person_with(library, faces["bob"][0])
    ops.reject(library, [faces["bob"][0]])
    recluster(library, SETTINGS)
    assert person_with(library, faces["bob"][0]) != bob
    assert person_with(library, faces["bob"][1]) == bob


def test_a_face_equally_close_to_two_named_people_is_not_suggested(library: Library) -> None:
    d = identities(2, seed=31)
    a = add_faces(library, faces_of(d[0], 4, seed=1))
    b = add_faces(library, faces_of(d[1], 4, seed=2))
    recluster(library, SETTINGS)
    ops.rename(library, person_with(library, a[0]), "Twin A")
    ops.rename(library, person_with(library, b[0]), "Twin B")
    between = (d[0] + d[1]) / np.linalg.norm(d[0] + d[1])  # a face halfway between the two
    (middle,) = add_faces(library, between[None])
    recluster(library, SETTINGS.with_overrides(match_threshold=1.5))
    assert states(library)[middle] == (None, "auto")


def test_merge_move_hide_and_ignore(family) -> None:
    library, faces = family
    ann, bob, cat = (person_with(library, faces[n][0]) for n in ("ann", "bob", "cat"))
    ops.rename(library, bob, "Bob")
    ops.merge(library, bob, cat)  # Bob's name goes with his faces to the unnamed target
    merged = people_of(library)
    assert merged[cat] == set(faces["bob"]) | set(faces["cat"]) and bob not in merged
    with library.reader() as session:
        assert session.get(Person, cat).name == "Bob"
    with pytest.raises(PeopleError, match="itself"):
        ops.merge(library, cat, cat)

    ops.move(library, [faces["x"][0]], ann)
    assert states(library)[faces["x"][0]] == (ann, "confirmed")
    new_person = ops.create_person(library, [faces["y"][0]], name="Yan")
    assert people_of(library)[new_person] == {faces["y"][0]}

    ops.set_hidden(library, ann, True)
    with library.reader() as session:
        assert session.get(Person, ann).hidden
    ops.set_hidden(library, ann, False)

    ops.set_ignored(library, [faces["ann"][0]])
    assert faces["ann"][0] not in people_of(library)[ann]
    recluster(library, SETTINGS)
    assert faces["ann"][0] not in set().union(*people_of(library).values())
    ops.set_ignored(library, [faces["ann"][0]], ignored=False)
    with pytest.raises(PeopleError, match="no person 999"):
        ops.set_hidden(library, 999, True)
    with pytest.raises(PeopleError, match="no face 999"):
        ops.move(library, [999], ann)


def test_a_decision_made_during_reclustering_wins(family, monkeypatch: pytest.MonkeyPatch) -> None:
    library, faces = family
    bob = person_with(library, faces["bob"][0])
    real_plan = recluster_module._plan
    calls = []

    def plan_then_user_acts(snapshot, settings):
        plan = real_plan(snapshot, settings)
        if not calls:  # the user names Bob while the first plan is being made
            ops.rename(library, bob, "Bob")
        calls.append(1)
        return plan

    monkeypatch.setattr(recluster_module, "_plan", plan_then_user_acts)
    recluster(library, SETTINGS)
    assert len(calls) == 2  # planned again
    assert {states(library)[f] for f in faces["bob"]} == {(bob, "confirmed")}


def test_people_settings_are_kept_in_the_library(library: Library) -> None:
    assert load_settings(library) == PeopleSettings()
    changed = PeopleSettings(cluster_threshold=0.6, min_faces=3)
    save_settings(library, changed)
    assert load_settings(library) == changed
