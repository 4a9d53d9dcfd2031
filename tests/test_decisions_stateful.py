"""Random sequences of everything a user and their files can do, with the library's promises
checked after every step (Hypothesis stateful testing, fake detector and embedder).

Steps: add, move, copy, delete and restore photo files and add a broken one; scan
(and rescan); name, merge, move faces (to a person or a new one), reject, confirm,
confirm all, hide and show, ignore and take back, say two people are different ("apart")
and take it back, answer the most useful open question yes or no; undo and redo; regroup;
switch the weights back and forth. After every step:

- no named or hidden person, confirmed face, rejection or "not a face" changes unless
  the step was a user decision about it (and a refused decision changes nothing);
- undo restores the exact decisions before the step it takes back, redo the ones after;
- no duplicate photo or face; every photo file is one photo with one face per drawn face;
- a photo whose bytes did not change keeps its face ids (also when it comes back to its
  path after being gone, beside a copy of itself);
- every face belongs to at most one person, which exists and which it was not said not to
  be; suggestions only go to people the user knows; faces marked as not a face belong to
  no one;
- no open question is about a pair said to be different, or a face said not to be that
  person.

The normal run tries a few hundred sequences (well under a minute); ``-m slow`` many more.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PIL import Image, ImageDraw
from sqlalchemy import func, select, text

from faceorganizer.jobs import GroupingFinished, GroupingStarted, reembed_and_group, scan_and_group
from faceorganizer.models.base import Models
from faceorganizer.models.weights import ResolvedWeights
from faceorganizer.people import operations as ops
from faceorganizer.people.operations import PeopleError
from faceorganizer.people.questions import QuestionBoard
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings
from faceorganizer.people.undo import Change, capture, redo, undo
from faceorganizer.reembed import record
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library
from faceorganizer.store.schema import Apart, Face, Person, Photo, Rejection
from faceorganizer.store.states import FaceState, PhotoStatus
from tests.fakes import FakeDetector, FakeEmbedder
from tests.postgres import Server
from tests.test_reembed import OtherEmbedder

SHADES = (0, 60, 120, 180, 240)  # five people: colours 60 apart embed as far apart as strangers
SIZE = (96, 64)
FACE = 24  # px: a white ring (the detector's "face") around a coloured middle (the embedder's)
SLOTS = ((4, 4), (36, 20), (66, 36))
SCAN = ScanSettings(min_face_size=12, workers=1)
# the faces are small: let them take part in grouping
PEOPLE = PeopleSettings(gate_min_size=12)
EMBEDDERS = {FakeEmbedder.space.model_id: FakeEmbedder, OtherEmbedder.space.model_id: OtherEmbedder}


def draw(path: Path, shades: tuple[int, ...]) -> None:
    image = Image.new("RGB", SIZE, (40, 60, 80))
    pen = ImageDraw.Draw(image)
    third = FACE // 3
    for (x, y), shade in zip(SLOTS, shades, strict=False):
        pen.rectangle((x, y, x + FACE - 1, y + FACE - 1), fill=(255, 255, 255))
        pen.rectangle((x + third, y + third, x + 2 * third - 1, y + 2 * third - 1),
                      fill=(shade, 255 - shade, 128))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def protected(state: dict) -> dict:
    """What only a user decision may change: named and hidden people, confirmed faces,
    faces marked as not a face, rejections."""
    people = {k[0]: v for k, v in state["people"].items()}
    faces = {k[0]: v for k, v in state["faces"].items()}
    return {
        "people": {pid: (name, hidden) for pid, (name, hidden, _) in people.items()
                   if name is not None or hidden},
        "confirmed": {fid: person for fid, (person, face_state, _) in faces.items()
                      if face_state == FaceState.CONFIRMED},
        "ignored": {fid for fid, (_, _, ignored) in faces.items() if ignored},
        "rejections": set(state["rejections"]),
        "apart": set(state["apart"]),
    }


class LibraryMachine(RuleBasedStateMachine):
    """One library over one folder of photo files, driven at random."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="faceorganizer-stateful-"))
        self.folder = self.tmp / "photos"
        self.folder.mkdir()
        self.away = self.tmp / "away"  # deleted files wait here to be restored
        self.away.mkdir()
        self.library = self.new_library()
        save_settings(self.library, PEOPLE)
        self.names = itertools.count()
        self.model_id = FakeEmbedder.space.model_id
        self.contents: dict[Path, tuple[int, ...]] = {}  # file on disk -> its faces' shades
        self.gone: dict[Path, Path] = {}  # original path -> where the deleted file waits
        self.history: list[Change] = []  # the undo stack
        self.redone = 0  # how many of its last changes are undone (and can be redone)
        self.steps_since_decision = 0
        self.before: dict | None = None
        self.after: dict | None = None
        self.just_undone = False
        self.contents_away: dict[Path, tuple[int, ...]] = {}

    def new_library(self) -> Library:
        return Library(self.tmp / "library.sqlite")

    def teardown(self) -> None:
        self.library.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------------

    def models(self) -> Models:
        return Models(FakeDetector(), EMBEDDERS[self.model_id]())

    def state(self) -> dict:
        with self.library.reader() as session:
            return capture(session)

    def ids(self, query) -> list[int]:
        with self.library.reader() as session:
            return sorted(session.scalars(query))

    def people_ids(self) -> list[int]:
        return self.ids(select(Person.id))

    def face_ids(self) -> list[int]:
        return self.ids(select(Face.id))

    def faces_of(self, person_id: int) -> set[int]:
        return set(self.ids(select(Face.id).where(Face.person_id == person_id)))

    def persons_of(self, faces: list[int]) -> set[int]:
        with self.library.reader() as session:
            return {p for p in session.scalars(select(Face.person_id).where(Face.id.in_(faces)))
                    if p is not None}

    def new_path(self) -> Path:
        return self.folder / f"p{next(self.names):03d}.png"

    def files(self) -> list[Path]:
        return sorted(self.contents)

    def decide(self, operation, *args, about_people: set[int], about_faces: set[int]) -> None:
        """A user decision: it may change what it is about, and nothing else; refused, nothing."""
        before = self.state()
        try:
            _, change = operation.undoable(self.library, *args)
        except PeopleError:
            assert self.state() == before, "a refused decision changed the library"
            return
        after = self.state()
        old, new = protected(before), protected(after)
        about_people = about_people | {k[0] for k in after["people"].keys() - before["people"].keys()}
        for person in old["people"].keys() | new["people"].keys():
            if old["people"].get(person) != new["people"].get(person):
                assert person in about_people, (operation, person)
        for face in old["confirmed"].keys() | new["confirmed"].keys():
            if old["confirmed"].get(face) != new["confirmed"].get(face):
                assert face in about_faces, (operation, face)
        assert old["ignored"] ^ new["ignored"] <= about_faces
        for face, person in old["rejections"] ^ new["rejections"]:
            assert face in about_faces or person in about_people, (operation, face, person)
        for pair in old["apart"] ^ new["apart"]:
            assert set(pair) & about_people, (operation, pair)
        del self.history[len(self.history) - self.redone:]
        self.redone = 0
        self.history.append(change)
        self.before, self.after = before, after
        self.steps_since_decision = 0

    def automatic(self, step) -> None:
        """A step that is not a decision: it must not change any."""
        before = self.state()
        step()
        assert protected(self.state()) == protected(before), step
        self.steps_since_decision += 1

    # ---- files ---------------------------------------------------------------------------

    @initialize(shades=st.lists(st.lists(st.sampled_from(SHADES), min_size=1, max_size=3).map(tuple),
                                min_size=2, max_size=6))
    def start(self, shades: list[tuple[int, ...]]) -> None:
        for faces in shades:
            self.add_photo(faces)
        self.scan()

    @rule(faces=st.lists(st.sampled_from(SHADES), min_size=0, max_size=3).map(tuple))
    def add_photo(self, faces: tuple[int, ...]) -> None:
        path = self.new_path()
        draw(path, faces)
        self.contents[path] = faces

    @rule()
    def add_broken_file(self) -> None:
        path = self.new_path()
        path.write_bytes(b"not a photo at all")
        self.contents[path] = ()

    @precondition(lambda self: self.contents)
    @rule(data=st.data(), into_subfolder=st.booleans())
    def move_file(self, data: st.DataObject, into_subfolder: bool) -> None:
        source = data.draw(st.sampled_from(self.files()))
        target = self.new_path()
        if into_subfolder:
            target = target.parent / "sub" / target.name
            target.parent.mkdir(exist_ok=True)
        shutil.move(source, target)
        self.contents[target] = self.contents.pop(source)

    @precondition(lambda self: self.contents)
    @rule(data=st.data())
    def copy_file(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(self.files()))
        target = self.new_path()
        shutil.copy2(source, target)
        self.contents[target] = self.contents[source]

    @precondition(lambda self: self.contents)
    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.files()))
        if path in self.gone:
            return
        waiting = self.away / f"{len(self.gone)}-{path.name}"
        shutil.move(path, waiting)  # keeps the mtime, as a drive unplugged and back would
        self.gone[path] = waiting
        self.contents_away[path] = self.contents.pop(path)

    @precondition(lambda self: self.gone)
    @rule(data=st.data())
    def restore_file(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.gone)))
        if path.exists():
            return
        shutil.move(self.gone.pop(path), path)
        self.contents[path] = self.contents_away.pop(path)

    # ---- automatic work ------------------------------------------------------------------

    @rule()
    def scan(self) -> None:
        before = self.rows_by_path()
        self.automatic(lambda: list(scan_and_group(self.library, [self.folder], self.models, SCAN)))
        after = self.rows_by_path()
        for path, faces in self.contents.items():
            row = after.get(str(path))
            assert row is not None and row[1] == (PhotoStatus.FAILED if path.read_bytes().startswith(
                b"not a photo") else PhotoStatus.OK), (path, row)
            assert len(row[2]) == len(faces), (path, row, faces)
            old = before.get(str(path))
            if old is not None and old[3] == row[3]:  # same bytes at the same path as before
                assert (old[0], old[2]) == (row[0], row[2]), f"{path} lost its faces: {old} -> {row}"

    @rule()
    def regroup(self) -> None:
        self.automatic(lambda: recluster(self.library, load_settings(self.library)))

    @rule()
    def switch_weights(self) -> None:
        other = next(m for m in EMBEDDERS if m != self.model_id)

        def switch() -> None:
            record(self.library, ResolvedWeights(Path(f"/weights/{other}.pt"), other, builtin=False))
            self.model_id = other
            events = list(reembed_and_group(self.library, self.models, SCAN))
            assert isinstance(events[-1], GroupingFinished) and isinstance(events[-2], GroupingStarted)

        faces_before = self.face_ids()
        self.automatic(switch)
        assert self.face_ids() == faces_before

    def rows_by_path(self) -> dict[str, tuple]:
        with self.library.reader() as session:
            photos = session.execute(select(Photo.id, Photo.path, Photo.status, Photo.content_hash)).all()
            faces: dict[int, list[int]] = {}
            for photo_id, face_id in session.execute(select(Face.photo_id, Face.id).order_by(Face.id)):
                faces.setdefault(photo_id, []).append(face_id)
        return {p.path: (p.id, p.status, tuple(faces.get(p.id, ())), p.content_hash) for p in photos}

    # ---- decisions -----------------------------------------------------------------------

    @precondition(lambda self: self.people_ids())
    @rule(data=st.data(), name=st.sampled_from(["Ann", "Bob", "Cat", " Dan  Y ", "Émile"]))
    def name(self, data: st.DataObject, name: str) -> None:
        person = data.draw(st.sampled_from(self.people_ids()))
        self.decide(ops.rename, person, name, about_people={person}, about_faces=self.faces_of(person))

    @precondition(lambda self: len(self.people_ids()) >= 1)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        people = self.people_ids()
        source, target = data.draw(st.sampled_from(people)), data.draw(st.sampled_from(people))
        faces = self.faces_of(source) | self.faces_of(target)
        self.decide(ops.merge, source, target, about_people={source, target}, about_faces=faces)

    @precondition(lambda self: self.face_ids() and self.people_ids())
    @rule(data=st.data())
    def move_faces(self, data: st.DataObject) -> None:
        faces = data.draw(st.lists(st.sampled_from(self.face_ids()), min_size=1, max_size=3, unique=True))
        target = data.draw(st.sampled_from(self.people_ids()))
        self.decide(ops.move, faces, target, about_people=self.persons_of(faces) | {target},
                    about_faces=set(faces))

    @precondition(lambda self: self.face_ids())
    @rule(data=st.data(), named=st.booleans())
    def move_to_new_person(self, data: st.DataObject, named: bool) -> None:
        faces = data.draw(st.lists(st.sampled_from(self.face_ids()), min_size=1, max_size=3, unique=True))
        before = set(self.people_ids())
        self.decide(ops.create_person, faces, "Newcomer" if named else None,
                    about_people=self.persons_of(faces), about_faces=set(faces))
        created = set(self.people_ids()) - before
        assert len(created) <= 1 and not created & before

    @precondition(lambda self: self.face_ids())
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        faces = data.draw(st.lists(st.sampled_from(self.face_ids()), min_size=1, max_size=2, unique=True))
        self.decide(ops.reject, faces, about_people=self.persons_of(faces), about_faces=set(faces))

    @precondition(lambda self: self.face_ids())
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        faces = data.draw(st.lists(st.sampled_from(self.face_ids()), min_size=1, max_size=3, unique=True))
        self.decide(ops.confirm, faces, about_people=set(), about_faces=set(faces))

    @precondition(lambda self: self.people_ids())
    @rule(data=st.data())
    def confirm_all(self, data: st.DataObject) -> None:
        person = data.draw(st.sampled_from(self.people_ids()))
        self.decide(ops.confirm_suggestions, person, about_people={person}, about_faces=self.faces_of(person))

    @precondition(lambda self: self.people_ids())
    @rule(data=st.data(), hidden=st.booleans())
    def hide(self, data: st.DataObject, hidden: bool) -> None:
        person = data.draw(st.sampled_from(self.people_ids()))
        self.decide(ops.set_hidden, person, hidden, about_people={person}, about_faces=set())

    @precondition(lambda self: self.face_ids())
    @rule(data=st.data(), ignored=st.booleans())
    def ignore(self, data: st.DataObject, ignored: bool) -> None:
        faces = data.draw(st.lists(st.sampled_from(self.face_ids()), min_size=1, max_size=2, unique=True))
        self.decide(ops.set_ignored, faces, ignored, about_people=self.persons_of(faces),
                    about_faces=set(faces))

    @precondition(lambda self: len(self.people_ids()) >= 1)
    @rule(data=st.data(), take_back=st.booleans())
    def apart(self, data: st.DataObject, take_back: bool) -> None:
        people = self.people_ids()
        first, second = data.draw(st.sampled_from(people)), data.draw(st.sampled_from(people))
        self.decide(ops.forget_apart if take_back else ops.apart, first, second,
                    about_people={first, second}, about_faces=set())

    @rule(yes=st.booleans())
    def answer(self, yes: bool) -> None:
        """The Review page's way: the most useful open question, answered."""
        questions = QuestionBoard(self.library).questions(limit=1)
        if not questions:
            return
        q = questions[0]
        if q.kind == "merge":
            assert q.person is not None
            faces = self.faces_of(q.person) | self.faces_of(q.into)
            self.decide(ops.merge if yes else ops.apart, q.person, q.into,
                        about_people={q.person, q.into}, about_faces=faces if yes else set())
        else:
            assert q.face is not None
            owner = self.persons_of([q.face])
            if yes:
                self.decide(ops.move, [q.face], q.into, about_people=owner | {q.into},
                            about_faces={q.face})
            else:
                self.decide(ops.reject, [q.face], None if owner else q.into,
                            about_people=owner | {q.into}, about_faces={q.face})

    @precondition(lambda self: len(self.history) > self.redone)
    @rule()
    def undo(self) -> None:
        change = self.history[len(self.history) - self.redone - 1]
        just_after = self.steps_since_decision == 0 and self.redone == 0
        undo(self.library, change)
        self.redone += 1
        state = self.state()
        if just_after:  # nothing happened in between: exactly the decisions before it
            assert state == self.before
        for table in change.tables:  # always: every row it changed is back, or gone with its photo
            for key, values in table.before.items():
                current = state[table.table].get(key)
                if values is None or table.table == "people":
                    assert current == values, (table.table, key, current, values)
                elif table.table == "rejections":
                    face, person = key
                    assert current == values or (face,) not in state["faces"] or (
                        person,) not in state["people"], (key, current, values)
                elif table.table == "apart":
                    assert current == values or not all((p,) in state["people"] for p in key), (
                        key, current, values)
                elif current is not None:
                    person, face_state, ignored = current
                    assert (person, face_state, ignored) == values or (
                        person is None and face_state == FaceState.AUTO and values[0] is not None
                        and (values[0],) not in state["people"]), (key, current, values)
        self.just_undone = just_after

    @precondition(lambda self: self.redone > 0)
    @rule()
    def redo(self) -> None:
        change = self.history[len(self.history) - self.redone]
        exact = getattr(self, "just_undone", False) and self.redone == 1 and self.steps_since_decision == 0
        redo(self.library, change)
        self.redone -= 1
        if exact:
            assert self.state() == self.after
        self.just_undone = False

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def sound(self) -> None:
        with self.library.reader() as session:
            if self.library.path is not None:  # a server always enforces its foreign keys
                assert session.execute(text("PRAGMA foreign_key_check")).all() == []
            paths = session.scalars(select(Photo.path)).all()
            assert len(paths) == len(set(paths)), "duplicate photo"
            boxes = session.execute(select(Face.photo_id, Face.x1, Face.y1)).all()
            assert max(Counter(boxes).values(), default=1) == 1, "duplicate face"
            people = set(session.scalars(select(Person.id)))
            named = {p for p, n, h in session.execute(select(Person.id, Person.name, Person.hidden))
                     if n is not None or h}
            confirmed = set(session.scalars(select(Face.person_id).where(
                Face.state == FaceState.CONFIRMED)))
            corrected = set(session.scalars(select(Rejection.person_id)))  # a face taken out of them
            apart = {(a, b) for a, b in session.execute(select(Apart.person_id, Apart.other_id))}
            assert all(a < b and a in people and b in people for a, b in apart)
            corrected |= {p for pair in apart for p in pair}
            rejected = {(f, p) for f, p in session.execute(select(Rejection.face_id, Rejection.person_id))}
            held = {(f, p) for f, p in session.execute(select(Face.id, Face.person_id))}
            assert not held & rejected, "a face in a person it was said not to be"
            for person, face_state, ignored in session.execute(
                    select(Face.person_id, Face.state, Face.ignored)):
                assert person is None or person in people
                if ignored:
                    assert person is None and face_state == FaceState.AUTO
                if face_state != FaceState.AUTO:
                    assert person is not None
                if face_state == FaceState.SUGGESTED:
                    assert person in named | confirmed | corrected, "a suggestion for someone unknown"
            ok = session.scalar(select(func.count()).select_from(Photo).where(
                Photo.status == PhotoStatus.OK))
        assert ok is not None
        for q in QuestionBoard(self.library).questions():
            if q.kind == "merge":
                assert (min(q.person, q.into), max(q.person, q.into)) not in apart
            else:
                assert (q.face, q.into) not in rejected


LibraryMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=14, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestLibraryDecisions = LibraryMachine.TestCase


class ServerLibraryMachine(LibraryMachine):
    """The same, with the library on a PostgreSQL server (issue 13): its undo triggers, snapshots
    and write lock keep the same promises."""

    server: Server | None = None

    def new_library(self) -> Library:
        assert self.server is not None
        return Library(self.server.new_database(vector=False))


def test_the_same_promises_hold_on_a_server_library(postgres_server: Server) -> None:
    ServerLibraryMachine.server = postgres_server
    try:
        run_state_machine_as_test(ServerLibraryMachine, settings=settings(
            max_examples=40, stateful_step_count=14, deadline=None, database=None, print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        ServerLibraryMachine.server = None


@pytest.mark.slow
def test_many_more_sequences() -> None:
    run_state_machine_as_test(LibraryMachine, settings=settings(
        max_examples=2000, stateful_step_count=30, deadline=None, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
