"""Adding a face the detector missed, in the photo viewer, as a user would: a box dragged on
the photo (Shift+drag, or "Add a missed face" then a drag) becomes a face at that place in the
photo's pixels, is asked a name, and the naming is undone by Ctrl+Z like any decision."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem

from faceorganizer.people import operations as ops
from faceorganizer.store import read
from tests.fakes import face_image
from tests.gui.conftest import scan

pytestmark = pytest.mark.gui

SHIFT, NONE = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.NoModifier


def photo_id(window, name: str) -> int:
    with window.context.library.reader() as session:
        return next(p.id for p in read.photos(session) if p.path.endswith(name))


def faces_of(window, photo: int) -> list:
    with window.context.library.reader() as session:
        return read.photo_faces(session, photo)


def read_people(window) -> list:
    with window.context.library.reader() as session:
        return read.people(session)


def open_photo(qtbot, window, name: str) -> int:
    found = photo_id(window, name)
    window.open_photo(found)
    viewer = window.viewer
    qtbot.waitUntil(lambda: any(isinstance(i, QGraphicsPixmapItem) for i in viewer.scene.items()),
                    timeout=10_000)
    return found


def on_screen(window, x: float, y: float) -> QPoint:
    """Where the photo's pixel (x, y) is in the viewer's viewport."""
    return window.viewer.view.mapFromScene(QPointF(x, y))


def drag(window, start: QPoint, end: QPoint, modifier=NONE, *, release: bool = True) -> None:
    viewport = window.viewer.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, start)
    middle = QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2)
    for point in (middle, end):
        QTest.mouseMove(viewport, point)
    if release:
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, end)


@pytest.fixture
def window(qtbot, make_window, photo_folder: Path):
    made = make_window()
    scan(qtbot, made, photo_folder)
    return made


def test_a_shift_drag_adds_the_face_at_the_box_and_naming_it_is_undone_by_ctrl_z(qtbot, window) -> None:
    photo = open_photo(qtbot, window, "ann0.jpg")  # 400 x 300, Ann's face at (40, 40)-(100, 100)
    viewer = window.viewer
    before = {f.face.id for f in faces_of(window, photo)}
    box = (210.0, 120.0, 290.0, 210.0)
    start, end = on_screen(window, box[0], box[1]), on_screen(window, box[2], box[3])
    assert end.x() - start.x() > 100  # the photo is shown larger than it is: a real mapping
    drag(window, start, end, SHIFT)
    qtbot.waitUntil(lambda: viewer.name_dialog is not None, timeout=30_000)
    added = [f for f in faces_of(window, photo) if f.face.id not in before]
    assert len(added) == 1
    face = added[0].face
    assert face.box == pytest.approx(box, abs=1.5)
    assert face.person_id is None
    # the new box is drawn in the viewer (dashed: drawn by the user)
    from faceorganizer.gui.viewer import _FaceBox

    shown = [i for i in viewer.scene.items() if isinstance(i, _FaceBox) and i.face.face.id == face.id]
    assert len(shown) == 1 and shown[0].pen().style() == Qt.PenStyle.DashLine
    # "Who is this?": an existing name completes; a new name makes a person
    dialog = viewer.name_dialog
    assert not dialog.name_button.isEnabled()
    qtbot.keyClicks(dialog.field, "  Zed   Zed ")
    with qtbot.waitSignal(window.job_finished, timeout=30_000):  # then the faces are regrouped
        qtbot.mouseClick(dialog.name_button, Qt.MouseButton.LeftButton)
    assert viewer.name_dialog is None
    named = {f.face.id: f for f in faces_of(window, photo)}[face.id]
    assert named.name == "Zed Zed" and named.face.state == "confirmed"
    assert "Zed Zed" in window.commands.undo.text()
    # Ctrl+Z in the window takes the naming back
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(viewer.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    undone = {f.face.id: f for f in faces_of(window, photo)}[face.id]
    assert undone.name is None and undone.face.person_id is None
    assert window.stack.currentWidget() is viewer


def test_a_drawn_face_named_as_an_existing_person_joins_them(qtbot, window) -> None:
    ann = max(read_people(window), key=lambda p: p.faces)
    assert window.context.decide("Name Ann", ops.rename, ann.id, "Ann")
    photo = open_photo(qtbot, window, "cat0.png")  # Cat's photo; a face of Ann was missed here
    viewer = window.viewer
    qtbot.mouseClick(viewer.add_button, Qt.MouseButton.LeftButton)
    assert viewer.view.drawing and viewer.hint.isVisible()
    drag(window, on_screen(window, 250, 180), on_screen(window, 330, 270))
    assert not viewer.view.drawing and not viewer.add_button.isChecked()
    qtbot.waitUntil(lambda: viewer.name_dialog is not None, timeout=30_000)
    dialog = viewer.name_dialog
    assert "Ann" in dialog.names
    qtbot.keyClicks(dialog.field, "Ann")
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    drawn = [f for f in faces_of(window, photo) if f.face.box[0] > 200]
    assert len(drawn) == 1 and drawn[0].face.person_id == ann.id and drawn[0].name == "Ann"


def test_skipping_the_name_keeps_the_face_unnamed(qtbot, window) -> None:
    photo = open_photo(qtbot, window, "stranger.jpg")
    viewer = window.viewer
    count = len(faces_of(window, photo))
    drag(window, on_screen(window, 250, 150), on_screen(window, 330, 240), SHIFT)
    qtbot.waitUntil(lambda: viewer.name_dialog is not None, timeout=30_000)
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        qtbot.mouseClick(viewer.name_dialog.skip_button, Qt.MouseButton.LeftButton)
    assert len(faces_of(window, photo)) == count + 1
    assert not window.commands.undo.isEnabled()  # no decision was made


def test_esc_cancels_a_drag_and_adds_nothing(qtbot, window) -> None:
    photo = open_photo(qtbot, window, "ann1.jpg")
    viewer = window.viewer
    count = len(faces_of(window, photo))
    qtbot.mouseClick(viewer.add_button, Qt.MouseButton.LeftButton)
    drag(window, on_screen(window, 200, 120), on_screen(window, 300, 220), release=False)
    assert viewer.view.band.isVisible()
    qtbot.keyClick(viewer.view, Qt.Key.Key_Escape)
    assert not viewer.view.band.isVisible() and not viewer.view.drawing
    assert not viewer.add_button.isChecked()
    QTest.mouseRelease(viewer.view.viewport(), Qt.MouseButton.LeftButton, NONE, on_screen(window, 300, 220))
    assert viewer.runner is None and viewer.name_dialog is None
    assert window.stack.currentWidget() is viewer  # Esc stopped the drawing, not the viewer
    qtbot.wait(100)
    assert len(faces_of(window, photo)) == count
    # a plain drag (not drawing, no Shift) draws nothing either
    drag(window, on_screen(window, 200, 120), on_screen(window, 300, 220))
    assert viewer.runner is None and not viewer.view.band.isVisible()


def test_a_box_too_small_is_refused_with_a_message_and_adds_nothing(qtbot, window, expect_message) -> None:
    photo = open_photo(qtbot, window, "ann2.jpg")
    viewer = window.viewer
    count = len(faces_of(window, photo))
    start, end = on_screen(window, 250, 150), on_screen(window, 255, 155)  # 5 x 5 photo pixels
    assert end.x() - start.x() >= 4  # a drag, not a click
    drag(window, start, end, SHIFT)
    qtbot.waitUntil(lambda: bool(expect_message.shown), timeout=30_000)
    assert "at least 8 pixels" in expect_message.texts("warning")[0]
    qtbot.waitUntil(lambda: viewer.runner is None)
    assert len(faces_of(window, photo)) == count and viewer.name_dialog is None
    assert viewer.add_button.isEnabled()


def test_a_box_over_a_face_already_there_is_refused(qtbot, window, expect_message) -> None:
    photo = open_photo(qtbot, window, "ann3.jpg")
    count = len(faces_of(window, photo))
    drag(window, on_screen(window, 41, 41), on_screen(window, 99, 99), SHIFT)
    qtbot.waitUntil(lambda: bool(expect_message.shown), timeout=30_000)
    assert "already there" in expect_message.texts("warning")[0]
    assert len(faces_of(window, photo)) == count


def test_the_warning_of_a_photos_face_regions_is_shown_under_it(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "tagged"
    face_image(folder / "odd.jpg", [(40, 40, 0)])
    face_image(folder / "plain.jpg", [(40, 40, 120)])
    (folder / "odd.jpg.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'><broken")
    window = make_window()
    scan(qtbot, window, folder)
    viewer = window.viewer
    open_photo(qtbot, window, "odd.jpg")
    assert viewer.notice.isVisible()
    assert "not well-formed" in viewer.notice.text() and "odd.jpg.xmp" in viewer.notice.text()
    open_photo(qtbot, window, "plain.jpg")
    assert not viewer.notice.isVisible()
    # and the scan says so in the status bar
    assert window.status.notes_button.isVisible()
    assert window.status.notes_button.text() == "1 XMP warning"
    assert window.last_summary is not None and len(window.last_summary.warnings) == 1
