"""The Review page driven by keys, as a user would: Y merges, N says "different" for good,
S skips, Ctrl+Z takes the last answer back; the People page links to it with the count."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from faceorganizer.people import operations as ops
from faceorganizer.people.questions import QuestionBoard
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import save_settings
from faceorganizer.store import Library, read
from tests.fakes import add_faces, faces_of, identities, unit
from tests.people.test_questions import STRICT, fragments, near

pytestmark = pytest.mark.gui


def person_of(library: Library, face_id: int) -> int | None:
    with library.reader() as session:
        face = read.face(session, face_id)
    assert face is not None
    return face.person_id


def people_count(window) -> int:
    with window.context.library.reader() as session:
        return read.counts(session).people


def fresh_keys(window) -> set[tuple[str, int, int]]:
    """The questions a board read afresh from the library asks."""
    return {q.key for q in QuestionBoard(window.context.library).questions()}


@pytest.fixture
def split_person(tmp_path: Path) -> list[list[int]]:
    """One person in three pieces (8, 4 and 3 faces), each a person of its own, as grouping
    leaves one it could not put together, and a stranger; the library keeps the strict
    settings (no isolation merge)."""
    with Library(tmp_path / "library.sqlite") as library:
        pieces = fragments(library, [8, 4, 3], seed=11)
        pieces.append(add_faces(library, faces_of(identities(1, seed=98)[0], 4, spread=0.3, seed=5)))
        save_settings(library, STRICT)
        for piece in pieces:
            ops.create_person(library, piece)
        owners = {person_of(library, piece[0]) for piece in pieces}
        assert len(owners) == 4 and None not in owners
    return pieces


def open_review(qtbot, window):
    """Follow the People page's link; the window active, as a user's is (keys are shortcuts)."""
    if not window.isActiveWindow():
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    assert window.people.review.isVisible() and window.people.review.isEnabled()
    qtbot.mouseClick(window.people.review, Qt.MouseButton.LeftButton)
    page = window.review
    assert window.stack.currentWidget() is page
    return page


def key(qtbot, page, letter: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(page, letter, modifier)


def test_the_people_page_links_to_the_review_with_the_count(qtbot, make_window, split_person) -> None:
    window = make_window()
    count = len(fresh_keys(window))
    assert count >= 3  # the three pieces, two by two
    assert window.people.review.text() == f"Review: {count} questions"
    page = open_review(qtbot, window)
    assert page.states.currentWidget() is page.asking
    assert page.prompt.text() == "Same person?"
    question = page.question
    assert question is not None and question.kind == "merge"
    assert len(page.left.faces()) == 4 and len(page.right.faces()) == 6  # the 4-piece into the 8
    assert page.left.title.text() == "Unnamed" and page.left.subtitle.text() == "4 faces"
    assert page.progress.text() == "0 answered; people 4 \u2192 4"


def test_yes_merges_and_the_count_follows(qtbot, make_window, split_person) -> None:
    window = make_window()
    big, four = (person_of(window.context.library, piece[0]) for piece in split_person[:2])
    page = open_review(qtbot, window)
    assert page.question is not None and (page.question.person, page.question.into) == (four, big)
    key(qtbot, page, Qt.Key.Key_Y)
    assert people_count(window) == 3
    assert person_of(window.context.library, split_person[1][0]) == big
    assert page.progress.text() == "1 answered; people 4 \u2192 3"
    assert window.commands.undo.text() == f"&Undo Merge person {four} into person {big}"
    assert page.question is not None and page.question.key not in {("merge", min(four, big), max(four, big))}
    window.back()
    assert window.stack.currentWidget() is window.people
    assert window.people.review.text() == f"Review: {len(fresh_keys(window))} question" + (
        "s" if len(fresh_keys(window)) != 1 else "")


def test_no_says_different_for_good_also_after_regrouping(qtbot, make_window, split_person) -> None:
    window = make_window()
    page = open_review(qtbot, window)
    first = page.question
    assert first is not None and first.kind == "merge" and first.person is not None
    face_of = {person_of(window.context.library, piece[0]): piece[0] for piece in split_person}
    pair = face_of[first.person], face_of[first.into]
    key(qtbot, page, Qt.Key.Key_N)
    assert people_count(window) == 4
    assert page.question is not None and page.question.key != first.key
    assert first.key not in fresh_keys(window)
    assert page.progress.text() == "1 answered; people 4 \u2192 4"
    assert "are different" in window.commands.undo.text()
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.regroup()
    assert first.key not in fresh_keys(window)
    assert first.key not in {q.key for q in window.questions.board().questions()}
    assert page.question is not None and page.question.key != first.key
    assert person_of(window.context.library, pair[0]) != person_of(window.context.library, pair[1])


def test_skip_leaves_a_question_for_the_next_review(qtbot, make_window, split_person) -> None:
    window = make_window()
    page = open_review(qtbot, window)
    first = page.question
    assert first is not None
    key(qtbot, page, Qt.Key.Key_S)
    assert page.question is not None and page.question.key != first.key
    assert first.key in fresh_keys(window)  # nothing was decided
    assert page.progress.text().startswith("0 answered, 1 skipped")
    window.back()
    page = open_review(qtbot, window)  # a new review asks it again
    assert page.question is not None and page.question.key == first.key


def test_ctrl_z_takes_the_last_answer_back(qtbot, make_window, split_person) -> None:
    window = make_window()
    page = open_review(qtbot, window)
    first = page.question
    assert first is not None
    key(qtbot, page, Qt.Key.Key_Y)
    assert people_count(window) == 3 and page.question is not None and page.question.key != first.key
    key(qtbot, page, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert people_count(window) == 4
    assert page.question is not None and page.question.key == first.key  # it comes back
    assert page.progress.text() == "0 answered; people 4 \u2192 4"
    # Redo (outside the page) counts again; the button undoes as the key does.
    window.commands.redo.trigger()
    assert page.progress.text() == "1 answered; people 4 \u2192 3"
    qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    assert people_count(window) == 4 and page.question is not None and page.question.key == first.key


def test_answering_everything_ends_with_nothing_left_to_ask(qtbot, make_window, split_person) -> None:
    window = make_window()
    page = open_review(qtbot, window)
    for _ in range(20):
        if page.question is None:
            break
        key(qtbot, page, Qt.Key.Key_Y)
    assert page.question is None and page.states.currentWidget() is page.done
    assert "Nothing left to ask" in page.finished_title.text()
    assert "You answered" in page.finished_text.text()
    assert {person_of(window.context.library, f[0]) for f in split_person[:3]} == {
        person_of(window.context.library, split_person[0][0])}
    key(qtbot, page, Qt.Key.Key_Y)  # nothing to answer: nothing happens
    qtbot.mouseClick(page.back_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.people
    assert not window.people.review.isVisible()


def test_no_to_an_unsorted_face_is_remembered(qtbot, make_window, tmp_path: Path) -> None:
    base = identities(2, seed=7)
    with Library(tmp_path / "library.sqlite") as library:
        ann = add_faces(library, faces_of(base[0], 6, spread=0.3, seed=1))
        add_faces(library, faces_of(base[1], 6, spread=0.3, seed=2))
        middle = add_faces(library, [unit(near(base[0], 1.05, seed=3))])[0]  # too far to suggest
        save_settings(library, STRICT)
        recluster(library, STRICT)
        pa = person_of(library, ann[0])
        assert person_of(library, middle) is None
    window = make_window()
    page = open_review(qtbot, window)
    for _ in range(10):
        if page.question is None or page.question.key == ("face", middle, pa):
            break
        key(qtbot, page, Qt.Key.Key_S)
    assert page.question is not None and page.question.key == ("face", middle, pa)
    assert page.prompt.text() == "Is this the same person as these?"
    assert page.left.faces() == [middle] and len(page.right.faces()) == 6
    assert page.left.subtitle.text().startswith("in no person yet")
    key(qtbot, page, Qt.Key.Key_N)
    assert person_of(window.context.library, middle) is None
    assert ("face", middle, pa) not in fresh_keys(window)
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.regroup()
    assert person_of(window.context.library, middle) is None
    assert ("face", middle, pa) not in fresh_keys(window)
    assert ("face", middle, pa) not in {q.key for q in window.questions.board().questions()}


def test_a_named_person_is_asked_by_name_and_yes_moves_the_face(qtbot, make_window,
                                                                tmp_path: Path) -> None:
    base = identities(1, seed=8)[0]
    with Library(tmp_path / "library.sqlite") as library:
        ann = add_faces(library, faces_of(base, 6, spread=0.3, seed=1))
        save_settings(library, STRICT)
        recluster(library, STRICT)
        pa = person_of(library, ann[0])
        assert pa is not None
        ops.rename(library, pa, "Ann")
        late = add_faces(library, faces_of(base, 1, spread=0.5, seed=9))[0]
        recluster(library, STRICT)
        assert person_of(library, late) == pa  # a suggestion
    window = make_window()
    page = open_review(qtbot, window)
    assert page.question is not None and page.question.key == ("face", late, pa)
    assert page.prompt.text() == "Is this Ann?"
    assert page.left.subtitle.text().startswith("suggested for this person")
    assert late not in page.right.faces()
    key(qtbot, page, Qt.Key.Key_Y)
    assert window.commands.undo.text() == f"&Undo Face {late} is Ann"
    assert page.states.currentWidget() is page.done
    with window.context.library.reader() as session:
        face = read.face(session, late)
    assert face is not None and face.state == "confirmed"


def test_a_large_library_is_read_in_the_background(qtbot, make_window, split_person,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.gui.review_page import QuestionService

    monkeypatch.setattr(QuestionService, "SYNC_FACES", 0)
    window = make_window()
    if window.questions.building:
        assert window.people.review.text() == "Review: finding questions..."
        assert not window.people.review.isEnabled()
        with qtbot.waitSignal(window.questions.updated, timeout=30_000):
            pass
    count = len(fresh_keys(window))
    assert window.people.review.text() == f"Review: {count} questions"
    page = open_review(qtbot, window)
    first = page.question
    assert first is not None
    key(qtbot, page, Qt.Key.Key_Y)  # a decision: followed in the background, not read again
    assert window.questions.refreshing and not window.questions.building
    assert page.question == first and not page.yes.isEnabled()  # shown until the next comes
    assert window.people.review.text() == f"Review: {count} questions"  # the count before
    key(qtbot, page, Qt.Key.Key_N)  # not answerable meanwhile: nothing happens
    with qtbot.waitSignal(window.questions.updated, timeout=30_000):
        pass
    assert page.question is not None and page.question.key != first.key and page.yes.isEnabled()
    assert page.progress.text() == "1 answered; people 4 \u2192 3"
    # New faces: read again, in the background, while the page says so.
    add_faces(window.context.library, faces_of(identities(1, seed=77)[0], 3, spread=0.3, seed=3))
    window.context.changed.emit()
    assert page.states.currentWidget() is page.loading and page.loading.text() == "Finding questions..."
    with qtbot.waitSignal(window.questions.updated, timeout=30_000):
        pass
    assert page.states.currentWidget() is page.asking and page.question is not None


def test_the_sample_spreads_over_sure_faces() -> None:
    from faceorganizer.gui.review_page import sample
    from faceorganizer.store.read import FaceSummary
    from faceorganizer.store.states import FaceState

    faces = [FaceSummary(i, i, f"/p{i}.jpg", (0, 0, 1, 1),
                         FaceState.SUGGESTED if i < 3 else FaceState.AUTO, 1, 0.99, None)
             for i in range(20)]
    picked = sample(faces)
    assert len(picked) == 6 and picked[0].id == 3 and picked[-1].id == 19
    assert all(f.state != FaceState.SUGGESTED for f in picked)
    assert [f.id for f in sample(faces[:2])] == [0, 1]
