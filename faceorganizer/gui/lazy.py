"""Pages reload from the library only when seen: a change marks hidden pages stale."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class _ReloadOnShow(QObject):
    def __init__(self, widget: QWidget, reload: Callable[[], None]) -> None:
        super().__init__(widget)
        self.widget, self.reload, self.stale = widget, reload, False
        widget.installEventFilter(self)

    def changed(self) -> None:
        if self.widget.isVisible():
            self.reload()
        else:
            self.stale = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and self.stale:
            self.stale = False
            self.reload()
        return False


def reload_when_visible(widget: QWidget, reload: Callable[[], None]) -> Callable[[], None]:
    """A slot for ``changed`` signals: reload now if ``widget`` is shown, else when it is."""
    return _ReloadOnShow(widget, reload).changed
