"""Starting the desktop app: checks first (a display, a library that opens), then the window."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from faceorganizer import APP_NAME
from faceorganizer.paths import absolute, default_library
from faceorganizer.store.address import is_server_address

from .resources import icon_path


def display_problem() -> str | None:
    """Why no window can be shown here, if that is so (before Qt aborts the process)."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") \
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return ("There is no display to show the faceorganizer window on. Use the command line "
                "(faceorganizer --help), or run it on a desktop.")
    from faceorganizer.display import window_problem

    return window_problem(os.environ, sys.platform)


def dispose(window) -> None:
    """Close a window and destroy its Qt objects while the application still exists
    (left to the garbage collector at exit, PySide can crash the process)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    window.close()
    window.context.close()
    window.deleteLater()
    QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def preload_torch(app) -> None:
    """Import torch before the window runs: its extension initialises for about half a second
    without letting other threads run, which would freeze a window that is already up."""
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QSplashScreen

    icon = icon_path()
    splash = QSplashScreen(QPixmap(str(icon)).scaled(256, 256) if icon else QPixmap(256, 256))
    splash.showMessage("Starting faceorganizer...")
    splash.show()
    app.processEvents()
    import torch  # noqa: F401

    splash.close()


def chosen_library(given: str | Path | None, last: str | None) -> str | Path:
    """The library the window opens: the one given (``--library`` or ``$FACEORGANIZER_LIBRARY``,
    the command line decides), else the last one used, else the default. A file is made
    absolute; a server's address is kept as written (it is checked when opened)."""
    if given:
        return given if is_server_address(given) else absolute(given)
    if last:
        return last if is_server_address(last) else Path(last)
    return default_library()


def main(argv: Sequence[str] = (), library: str | Path | None = None, weights: Path | None = None) -> int:
    """Open the window; with ``weights``, the first library opened switches to them (its faces
    are re-embedded in the background once the models are loaded)."""
    problem = display_problem()
    if problem:
        print(f"faceorganizer: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

    from faceorganizer.store import Library, LibraryError

    from .context import AppContext
    from .main_window import MainWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([APP_NAME, *argv])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    settings = QSettings()
    last = settings.value("library")
    path = chosen_library(library, str(last) if last else None)
    preload_torch(app)

    def open_window(path: str | Path) -> MainWindow | None:
        while True:
            try:
                opened = Library(path)
                break
            except LibraryError as exc:
                answer = QMessageBox.critical(
                    None, "The library cannot be opened", f"{exc}\n\nChoose another library file?",
                    QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel)
                if answer != QMessageBox.StandardButton.Open:
                    return None
                chosen, _ = QFileDialog.getSaveFileName(
                    None, "Library file", str(default_library()), "faceorganizer library (*.sqlite)",
                    options=QFileDialog.Option.DontConfirmOverwrite)
                if not chosen:
                    return None
                path = Path(chosen)
        settings.setValue("library", opened.name)  # a server's address has no password
        pending = switch_to.pop() if switch_to else None
        if pending is not None:
            from faceorganizer.models.weights import WeightsError
            from faceorganizer.reembed import library_weights

            try:
                library_weights(opened, pending)
            except WeightsError as exc:
                QMessageBox.warning(None, "faceorganizer", str(exc))
        context = AppContext(opened, settings)
        window = MainWindow(context)
        window.library_switch_requested.connect(lambda new: switch(window, new))
        window.show()
        return window

    windows: list[MainWindow] = []
    switch_to = [weights] if weights is not None else []

    def switch(old: MainWindow, new: str) -> None:
        replacement = open_window(new)
        if replacement is not None:
            windows.remove(old)
            dispose(old)
            windows.append(replacement)

    first = open_window(path)
    if first is None:
        return 1
    windows.append(first)
    code = app.exec()
    for window in windows:
        dispose(window)
    return code
