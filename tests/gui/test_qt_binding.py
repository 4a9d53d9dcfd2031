"""The Qt binding itself: a release that miscounts references to None would crash the app
after enough repaints, as PySide6 6.12.0 does on Python 3.11."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

pytestmark = pytest.mark.gui


def test_empty_item_data_keeps_references_to_none(qtbot) -> None:
    model = QStandardItemModel()
    model.appendRow(QStandardItem("a"))
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        assert index.data(Qt.ItemDataRole.UserRole) is None
    assert abs(sys.getrefcount(None) - before) < 100
