"""The name field of a person's page follows undo and redo, and never names a person again
behind the user's back."""

from __future__ import annotations

from PySide6.QtCore import Qt

from faceorganizer.store import read
from tests.gui.conftest import scan
from tests.gui.test_app import people_by_size


def name_in_library(window, person_id: int) -> str | None:
    with window.context.library.reader() as session:
        person = read.person(session, person_id)
        assert person is not None
        return person.name


def test_undo_of_a_name_typed_in_the_field_clears_the_field(qtbot, make_window, photo_folder) -> None:
    """Found by looking at the window: after typing a name and pressing Enter, Undo took the
    name out of the library but the focused field kept showing it, and leaving the field
    named the person again."""
    window = make_window()
    scan(qtbot, window, photo_folder)
    ann = people_by_size(window)[0]
    window.open_person(ann.id)
    field = window.person.name
    field.setFocus()
    qtbot.keyClicks(field, "Ann")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert name_in_library(window, ann.id) == "Ann"
    assert window.context.step(forward=False)  # Edit > Undo
    assert name_in_library(window, ann.id) is None
    assert field.text() == ""
    window.people.setFocus()  # leaving the field changes nothing
    field.clearFocus()
    qtbot.wait(10)
    assert name_in_library(window, ann.id) is None
    assert window.context.step(forward=True)  # Redo
    assert field.text() == "Ann" and name_in_library(window, ann.id) == "Ann"


def test_a_name_being_typed_is_not_overwritten_by_a_reload(qtbot, make_window, photo_folder) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    ann = people_by_size(window)[0]
    window.open_person(ann.id)
    field = window.person.name
    field.setFocus()
    qtbot.keyClicks(field, "Half-typed")
    window.context.changed.emit()  # something else changed the library meanwhile
    assert field.text() == "Half-typed"
