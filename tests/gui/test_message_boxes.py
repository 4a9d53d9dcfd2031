"""The tests' own guard: a message box a test did not expect fails it at once (offscreen, a
modal box would wait forever for a click)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("kind", ["warning", "critical", "information", "question"])
def test_an_unexpected_message_box_fails_the_test(kind: str, message_boxes) -> None:
    with pytest.raises(AssertionError, match=f"unexpected message box \\({kind}\\) 'Title': the text"):
        getattr(QMessageBox, kind)(None, "Title", "the text")
    assert [(b.kind, b.title, b.text) for b in message_boxes.shown] == [(kind, "Title", "the text")]
    message_boxes.shown.clear()  # else the test fails at its end, as it should


def test_an_expected_one_is_recorded_and_answered(expect_message) -> None:
    assert QMessageBox.question(None, "Merge?", "Merge them?") == QMessageBox.StandardButton.Yes
    expect_message.answer = QMessageBox.StandardButton.No
    assert QMessageBox.question(None, "Merge?", "Really?") == QMessageBox.StandardButton.No
    QMessageBox.warning(None, "faceorganizer", "The library is locked.")
    assert expect_message.texts() == ["Merge them?", "Really?", "The library is locked."]
    assert expect_message.texts("warning") == ["The library is locked."]


def test_a_test_may_still_answer_a_box_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert QMessageBox.question(None, "Merge?", "Merge them?") == QMessageBox.StandardButton.Yes
