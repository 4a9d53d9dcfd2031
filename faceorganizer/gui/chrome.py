"""The window's chrome: the side bar, and the actions of its menus, toolbar and shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

from .context import history_actions
from .resources import icon_path

if TYPE_CHECKING:
    from .main_window import MainWindow

SP = QStyle.StandardPixmap


def sidebar(style: QStyle) -> QListWidget:
    """People, Photos, Search."""
    made = QListWidget()
    app_icon = icon_path()
    people_icon = QIcon(str(app_icon)) if app_icon else style.standardIcon(SP.SP_DirHomeIcon)
    for text, icon in [("People", people_icon), ("Photos", style.standardIcon(SP.SP_DirIcon)),
                       ("Search", style.standardIcon(SP.SP_FileDialogContentsView))]:
        made.addItem(QListWidgetItem(icon, text))
    made.setMaximumWidth(180)
    made.setIconSize(QSize(22, 22))
    made.setSpacing(3)
    font = made.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)
    made.setFont(font)
    return made


@dataclass(frozen=True)
class Commands:
    """The window's actions that others (tests, pages) reach."""

    open: QAction
    rescan: QAction
    retry_failed: QAction
    write_names: QAction
    search: QAction
    rename: QAction
    settings: QAction
    undo: QAction
    redo: QAction


def install(window: MainWindow) -> Commands:
    """Make the window's actions and put them in its menus and toolbar."""
    style = window.style()

    def action(text: str, slot: Callable[[], object],
               shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
               icon: QStyle.StandardPixmap | None = None, tip: str | None = None) -> QAction:
        made = QAction(text, window)
        if shortcut is not None:
            made.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            made.setIcon(style.standardIcon(icon))
        if tip:
            made.setStatusTip(tip)
        made.triggered.connect(slot)
        return made

    undo, redo = history_actions(window.context, window)
    undo.setIcon(style.standardIcon(SP.SP_ArrowBack))
    commands = Commands(
        open=action("&Open Folder...", window.open_folder, QKeySequence.StandardKey.Open, SP.SP_DirOpenIcon,
                    "Add a folder of photos and scan it"),
        rescan=action("&Rescan All", window.rescan_all, "F5", SP.SP_BrowserReload,
                      "Look for new, changed, moved and deleted photos"),
        retry_failed=action("Retry &Failed Files", window.retry_failed, tip=(
            "Read the files that could not be read again, even those that did not change")),
        write_names=action("Write &Names to Files...", window.write_names, tip=(
            "Write the names into XMP sidecar files next to the photos (or into the photos), "
            "for other photo apps")),
        search=action("Search by &Photo...", window.search_photo_dialog, QKeySequence.StandardKey.Find,
                      SP.SP_FileDialogContentsView, "Find the photos of the person in a photo"),
        rename=action("&Rename Person", window.rename, "F2"),
        settings=action("&Settings...", window.open_settings, QKeySequence.StandardKey.Preferences),
        undo=undo, redo=redo)

    menus = window.menuBar()
    file_menu = menus.addMenu("&File")
    for item in (commands.open, commands.rescan, commands.retry_failed):
        file_menu.addAction(item)
    file_menu.addSeparator()
    file_menu.addAction(commands.write_names)
    file_menu.addSeparator()
    file_menu.addAction(action("&Quit", window.close, QKeySequence.StandardKey.Quit))
    edit = menus.addMenu("&Edit")
    edit.addAction(undo)
    edit.addAction(redo)
    edit.addSeparator()
    edit.addAction(commands.settings)
    people = menus.addMenu("&People")
    people.addAction(commands.rename)
    people.addAction(action("Unsorted Faces", window.open_unsorted))
    people.addAction(action("Regroup Faces", window.regroup))
    menus.addMenu("&Search").addAction(commands.search)
    menus.addMenu("&Help").addAction(action("&About faceorganizer", window.about))

    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setIconSize(QSize(20, 20))
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for item in (commands.open, commands.rescan, commands.search, undo):
        toolbar.addAction(item)
    return commands
