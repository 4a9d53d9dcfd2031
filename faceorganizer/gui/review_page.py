"""The Review page: the library's open questions, one at a time, answered by key.

"Same person?" for two people shown side by side, "Is this Ann?" for a face and the person
it may be. Y answers yes, N no, S skips (not asked again in this review), Ctrl+Z (the
window's Undo) takes the last answer back. Every answer is a decision on the undo stack
(``people.operations``): yes to a merge question merges, no says the two are different for
good; yes to a face question moves (confirms) the face, no rejects it from that person.

The questions come from a :class:`~faceorganizer.people.questions.QuestionBoard` that
:class:`QuestionService` keeps for the whole window: it follows the library's changes
(``refresh``: cheap, what changed), and reads the embeddings again only when faces changed
(a scan, a weights switch), off the GUI thread on a large library.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QKeySequence, QPainter, QPainterPath, QPaintEvent, QPalette, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people import operations as ops
from faceorganizer.people.questions import Question, QuestionBoard
from faceorganizer.store import read
from faceorganizer.store.read import FaceSummary, PersonSummary
from faceorganizer.store.records import faces_revision
from faceorganizer.store.states import FaceState

from .context import AppContext, describe
from .lazy import reload_when_visible
from .tiles import AMBER
from .worker import JobRunner

log = logging.getLogger(__name__)

SHOWN = 6  # faces shown of each person
TILE = 132
COLUMNS = 3
Key = tuple[str, int, int]


# ---- the board, kept for the window ------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    board: QuestionBoard
    revision: int  # the library's faces revision it was read at


class QuestionService(QObject):
    """The window's :class:`QuestionBoard`, up to date whenever it is asked for.

    A change of the library (``context.changed``) marks it stale; the next :meth:`board`
    refreshes it (what changed only), or builds it again if faces changed since it was read
    (or the people settings did). On a library of more than ``SYNC_FACES`` faces both are
    done on a worker thread: meanwhile :meth:`board` is None (``building`` or ``refreshing``
    says which), and ``updated`` says when to ask again. Make it before the pages, so that it
    hears of a change before they do.
    """

    updated = Signal()  # a board was built or refreshed in the background (or could not be)
    SYNC_FACES = 5000

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._built: _Built | None = None
        self._stale = False
        self._large = False  # the last board was built in the background: refreshed there too
        self._runner: JobRunner | None = None
        self._refreshing = False  # what the runner does: a refresh (else a build)
        self._dirty = False  # the library changed while the runner ran
        self._count: int | None = None  # the last count, shown while a refresh runs
        self._counted = False  # whether ``_count`` is the board's as it is now
        self.error: str | None = None
        context.changed.connect(self._changed)

    @property
    def building(self) -> bool:
        """Whether the board is being read afresh (it has no questions meanwhile)."""
        return self._runner is not None and not self._refreshing

    @property
    def refreshing(self) -> bool:
        """Whether the board is following a change in the background (a moment)."""
        return self._runner is not None and self._refreshing

    def board(self) -> QuestionBoard | None:
        """The board, up to date; None while it is built or refreshed in the background."""
        if self._runner is not None:
            return None
        if self._built is None or self._stale:
            self._stale = False
            if self._needs_build():
                self._build()
            elif self._built is not None:
                self._refresh(self._built)
            if self._runner is not None:
                return None
        return self._current()

    def count(self) -> int | None:
        """How many questions are open; None while the board is being built (while it is
        refreshed: the count before)."""
        board = self.board()
        if board is None:
            return self._count if self.refreshing else None
        if not self._counted:
            self._count, self._counted = board.count(), True
        return self._count

    def shutdown(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.abandon()
            runner.wait(60_000)

    # ---- keeping up -----------------------------------------------------------------------

    def _current(self) -> QuestionBoard | None:
        return self._built.board if self._built is not None else None

    def _changed(self) -> None:
        if self._runner is not None:
            self._dirty = True
        self._stale = True

    def _needs_build(self) -> bool:
        if self._built is None:
            return True
        try:
            with self.context.library.reader() as session:
                revision = faces_revision(session)
            settings = self.context.people_settings()
        except Exception as exc:
            self._give_up(exc)
            return False
        return revision != self._built.revision or settings != self._built.board.base_settings

    def _build(self) -> None:
        library = self.context.library
        try:
            with library.reader() as session:
                self._large = read.face_count(session) > self.SYNC_FACES
        except Exception as exc:
            self._give_up(exc)
            return

        def work(cancel: threading.Event | None = None) -> Iterator[_Built]:
            with library.reader() as session:
                revision = faces_revision(session)  # before reading: a later change is seen
            yield _Built(QuestionBoard(library), revision)

        self._run(work, refreshing=False)

    def _refresh(self, built: _Built) -> None:
        def work(cancel: threading.Event | None = None) -> Iterator[_Built]:
            built.board.refresh()
            yield built

        self._run(work, refreshing=True)

    def _run(self, work: Callable[[threading.Event | None], Iterator[_Built]], *, refreshing: bool) -> None:
        self._dirty, self._counted = False, False
        if not self._large:
            try:
                self._built = next(work(None))
                self.error = None
            except Exception as exc:  # a library that cannot be read: no questions for now
                self._give_up(exc)
            return
        runner = JobRunner(work, self)
        runner.occurred.connect(self._arrived)
        runner.failed.connect(self._failed)
        runner.finished.connect(lambda: self._finished(runner))
        self._runner, self._refreshing = runner, refreshing
        runner.start()

    def _arrived(self, built: object) -> None:
        assert isinstance(built, _Built)
        self._built, self.error, self._counted = built, None, False

    def _failed(self, message: str) -> None:
        log.warning("the questions could not be found: %s", message)
        self.error = message
        self._built = None  # half followed, maybe: read afresh next time

    def _finished(self, runner: JobRunner) -> None:
        runner.deleteLater()
        if runner is not self._runner:
            return
        self._runner = None
        if self._dirty:  # what changed meanwhile: followed when asked
            self._dirty, self._stale = False, True
        self.updated.emit()

    def _give_up(self, exc: Exception) -> None:
        log.warning("the questions could not be found: %s", exc)
        self.error = str(exc)
        self._built = None


# ---- drawing faces ------------------------------------------------------------------------


class FaceTile(QWidget):
    """One face, large and round (a grey disc until its thumbnail is made)."""

    def __init__(self, context: AppContext, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.side = size
        self.face: FaceSummary | None = None
        self.setFixedSize(size, size)
        context.thumbnails.ready.connect(self._ready)

    def set_face(self, face: FaceSummary | None) -> None:
        self.face = face
        self.setVisible(face is not None)
        if face is not None:
            when = f", {face.taken_at:%d %b %Y}" if face.taken_at else ""
            self.setToolTip(f"{face.photo}{when}")
        self.update()

    def _ready(self, _key: str) -> None:
        if self.isVisible():
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        clip = QPainterPath()
        clip.addEllipse(rect)
        painter.setClipPath(clip)
        pixmap = (self.context.thumbnails.face(self.face, self.side, self.devicePixelRatioF())
                  if self.face is not None else None)
        if pixmap is not None and not pixmap.isNull():
            side = min(pixmap.width(), pixmap.height())
            source = QRectF((pixmap.width() - side) / 2, (pixmap.height() - side) / 2, side, side)
            painter.drawPixmap(rect, pixmap, source)
        else:
            painter.fillRect(rect, self.palette().color(QPalette.ColorRole.Mid))
        painter.setClipping(False)
        if self.face is not None and self.face.state == FaceState.SUGGESTED:
            pen = painter.pen()
            pen.setColor(AMBER)
            pen.setWidth(3)
            painter.setPen(pen)
            painter.drawEllipse(rect.adjusted(1.5, 1.5, -1.5, -1.5))
        painter.end()


class _Side(QWidget):
    """One side of a question: a title, a line under it, and faces in a grid."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.tiles = [FaceTile(context, TILE, self) for _ in range(SHOWN)]
        for i, tile in enumerate(self.tiles):
            grid.addWidget(tile, i // COLUMNS, i % COLUMNS)
        self.large = FaceTile(context, 2 * TILE + 8, self)
        grid.addWidget(self.large, 0, 0, 2, COLUMNS, Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(grid)
        layout.addStretch(1)  # a person with few faces: at the top, beside the other side's

    def show_faces(self, title: str, subtitle: str, faces: list[FaceSummary], *,
                   large: bool = False) -> None:
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self.large.set_face(faces[0] if large and faces else None)
        for i, tile in enumerate(self.tiles):
            tile.set_face(faces[i] if not large and i < len(faces) else None)
            if large:
                tile.setVisible(False)

    def faces(self) -> list[int]:
        """The ids of the faces shown (for tests)."""
        return [t.face.id for t in [self.large, *self.tiles] if t.face is not None and not t.isHidden()]


def sample(faces: list[FaceSummary], count: int = SHOWN) -> list[FaceSummary]:
    """``count`` faces spread over ``faces`` (sure ones rather than suggestions)."""
    sure = [f for f in faces if f.state != FaceState.SUGGESTED] or faces
    if len(sure) <= count:
        return list(sure)
    step = (len(sure) - 1) / (count - 1)
    return [sure[round(i * step)] for i in range(count)]


def who(person: PersonSummary | None, person_id: int) -> str:
    """A person as an undo text names them: their name, or "person 12"."""
    return person.name if person is not None and person.name else f"person {person_id}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---- the page -------------------------------------------------------------------------------


class ReviewPage(QWidget):
    """One open question at a time; Y, N, S and Ctrl+Z (the window's Undo)."""

    back_requested = Signal()

    def __init__(self, context: AppContext, questions: QuestionService,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.questions = questions
        self.question: Question | None = None
        self.skipped: set[Key] = set()
        self._answers: list[object] = []  # the undo commands of this review's answers
        self._people_at_start: int | None = None
        self._people: dict[int, PersonSummary] = {}
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        back = QToolButton()
        back.setText("\u2190 People")
        back.clicked.connect(self.back_requested)
        top.addWidget(back)
        top.addWidget(QLabel("<h2>Review</h2>"))
        top.addStretch()
        self.progress = QLabel()
        self.progress.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        top.addWidget(self.progress)
        layout.addLayout(top)

        self.states = QStackedWidget()
        layout.addWidget(self.states, 1)

        self.loading = QLabel("Finding questions...")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.states.addWidget(self.loading)

        asking = QWidget()
        column = QVBoxLayout(asking)
        column.addStretch(1)
        self.prompt = QLabel()
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt.setTextFormat(Qt.TextFormat.PlainText)
        font = self.prompt.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.prompt.setFont(font)
        column.addWidget(self.prompt)
        sides = QHBoxLayout()
        sides.addStretch()
        self.left, self.right = _Side(context), _Side(context)
        sides.addWidget(self.left)
        sides.addSpacing(48)
        sides.addWidget(self.right)
        sides.addStretch()
        column.addSpacing(12)
        column.addLayout(sides)
        column.addSpacing(12)
        self.detail = QLabel()
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addWidget(self.detail)
        buttons = QHBoxLayout()
        buttons.addStretch()
        self.yes = QPushButton()
        self.no = QPushButton()
        self.skip = QPushButton("Skip (S)")
        self.skip.setToolTip("Not now: not asked again in this review")
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.undo_button.setToolTip("Take the last answer back")
        for button, slot in ((self.yes, self.answer_yes), (self.no, self.answer_no),
                             (self.skip, self.skip_question), (self.undo_button, self.undo)):
            button.clicked.connect(slot)
            button.setMinimumWidth(150)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the page, never "press" one
            buttons.addWidget(button)
        self.yes.setDefault(True)
        self.undo_button.setEnabled(context.undo.canUndo())
        context.undo.canUndoChanged.connect(self.undo_button.setEnabled)
        buttons.addStretch()
        column.addLayout(buttons)
        column.addStretch(2)
        self.states.addWidget(asking)
        self.asking = asking

        done = QWidget()
        finish = QVBoxLayout(done)
        finish.addStretch()
        self.finished_title = QLabel("<h1>Nothing left to ask</h1>")
        self.finished_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        finish.addWidget(self.finished_title)
        self.finished_text = QLabel()
        self.finished_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.finished_text.setWordWrap(True)
        finish.addWidget(self.finished_text)
        self.back_button = QPushButton("Back to People")
        self.back_button.clicked.connect(self.back_requested)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.back_button)
        row.addStretch()
        finish.addLayout(row)
        finish.addStretch()
        self.states.addWidget(done)
        self.done = done

        for key, slot in (("Y", self.answer_yes), ("N", self.answer_no), ("S", self.skip_question)):
            QShortcut(QKeySequence(key), self, slot)
        context.changed.connect(reload_when_visible(self, self.show_next))
        questions.updated.connect(reload_when_visible(self, self.show_next))
        # An undo or redo moves the stack after the views reloaded: count the answers again.
        context.undo.indexChanged.connect(self._stack_moved)

    # ---- a review -------------------------------------------------------------------------

    def start(self) -> None:
        """A new review: nothing answered or skipped yet; people counted from now."""
        self.skipped.clear()
        self._answers.clear()
        self._people_at_start = self._people_count()
        self.show_next()

    @property
    def answered(self) -> int:
        """This review's answers that are still made (not undone)."""
        stack = self.context.undo
        made = {id(stack.command(i)) for i in range(stack.index())}
        return sum(1 for command in self._answers if id(command) in made)

    def _people_count(self) -> int | None:
        try:
            with self.context.library.reader() as session:
                return read.counts(session).people
        except Exception:  # shown as unknown; the error itself is the window's to report
            return None

    def _stack_moved(self, _index: int) -> None:
        if self.isVisible() and shiboken6.isValid(self.context.undo):  # not while it is cleared
            self._show_progress()

    def _show_progress(self) -> None:
        now = self._people_count()
        people = (f"people {self._people_at_start} \u2192 {now}"
                  if self._people_at_start is not None and now is not None else "")
        text = f"{self.answered} answered"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        self.progress.setText(f"{text}; {people}" if people else text)

    def show_next(self) -> None:
        """Show the most useful question not skipped (or that none is left)."""
        if self._people_at_start is None:
            self._people_at_start = self._people_count()
        self._show_progress()
        board = self.questions.board()
        if board is None and self.questions.refreshing and self.question is not None:
            self._set_answerable(False)  # the next question comes in a moment (``updated``)
            return
        if board is None:
            self.question = None
            self.loading.setText(f"The questions could not be found: {self.questions.error}"
                                 if self.questions.error and not self.questions.building
                                 else "Finding questions...")
            self.states.setCurrentWidget(self.loading)
            return
        found = board.questions(skip=self.skipped)  # all: as quick as the first (a sort)
        self.question = found[0] if found else None
        if self.question is None:
            self._finished()
            return
        try:
            self._show(self.question, len(found))
        except Exception as exc:  # the library could not be read: say so, keep the window
            self.context.failed.emit(str(exc))
            self.question = None
            return
        self._set_answerable(True)
        self.states.setCurrentWidget(self.asking)
        if self.isVisible() and not self.hasFocus():
            self.setFocus()

    def _set_answerable(self, answerable: bool) -> None:
        for button in (self.yes, self.no, self.skip):
            button.setEnabled(answerable)

    def _answerable(self) -> bool:
        return self.question is not None and self.isVisible() and self.yes.isEnabled()

    def _finished(self) -> None:
        answered = self.answered
        said = [f"You answered {describe(answered, 'question')}."] if answered else []
        if self.skipped:
            said.append(f"{describe(len(self.skipped), 'question')} skipped: a new review asks "
                        "them again.")
        else:
            said.append("Every person and face that might go together has been settled.")
        self.finished_text.setText(" ".join(said))
        self.states.setCurrentWidget(self.done)

    def _show(self, question: Question, left: int) -> None:
        with self.context.library.reader() as session:
            into = read.person(session, question.into)
            into_faces = read.person_faces(session, question.into)
            if question.kind == "merge":
                assert question.person is not None
                person = read.person(session, question.person)
                person_faces = read.person_faces(session, question.person)
                face = None
            else:
                assert question.face is not None
                face = read.face(session, question.face)
                person, person_faces = None, []
        self._people = {p.id: p for p in (person, into) if p is not None}
        likely = f"{100 * question.likelihood:.0f}% likely by how alike the faces are"
        remaining = f"{describe(left, 'question')} left"
        if question.kind == "merge":
            assert question.person is not None
            self.prompt.setText("Same person?")
            self.left.show_faces(self._title(person), self._count(person), sample(person_faces))
            self.right.show_faces(self._title(into), self._count(into), sample(into_faces))
            self.yes.setText("Same person (Y)")
            self.no.setText("Different (N)")
            gain = f"Yes puts {describe(question.gain, 'face')} together"
        else:
            name = into.name if into is not None and into.name else None
            self.prompt.setText(f"Is this {name}?" if name else "Is this the same person as these?")
            if face is None or face.person_id != question.into:
                where = "in no person yet"
            elif question.member:
                where = "grouped with this person, but unlike the others"
            else:
                where = "suggested for this person"
            when = f", {face.taken_at:%d %b %Y}" if face is not None and face.taken_at else ""
            self.left.show_faces("This face", where + when, [face] if face is not None else [],
                                 large=True)
            others = [f for f in into_faces if f.id != question.face]
            self.right.show_faces(self._title(into), self._count(into), sample(others))
            self.yes.setText("Yes (Y)")
            self.no.setText("No (N)")
            gain = ("No takes the face out of this person" if question.member
                    else "Yes puts the face in this person")
        self.detail.setText(f"{gain}; {likely}. {remaining}.")

    @staticmethod
    def _title(person: PersonSummary | None) -> str:
        return (person.name or "Unnamed") if person is not None else "Unknown"

    @staticmethod
    def _count(person: PersonSummary | None) -> str:
        return describe(person.faces, "face") if person is not None else ""

    # ---- answers ----------------------------------------------------------------------------

    def _name(self, person_id: int) -> str:
        return who(self._people.get(person_id), person_id)

    def answer_yes(self) -> None:
        q = self.question
        if q is None or not self._answerable():
            return
        if q.kind == "merge":
            assert q.person is not None
            self._decide(f"Merge {self._name(q.person)} into {self._name(q.into)}",
                         ops.merge, q.person, q.into)
        else:
            assert q.face is not None
            self._decide(f"Face {q.face} is {self._name(q.into)}", ops.move, [q.face], q.into)

    def answer_no(self) -> None:
        q = self.question
        if q is None or not self._answerable():
            return
        if q.kind == "merge":
            assert q.person is not None
            self._decide(f"{_capital(self._name(q.person))} and {self._name(q.into)} are different",
                         ops.apart, q.person, q.into)
            return
        assert q.face is not None
        with self.context.library.reader() as session:
            face = read.face(session, q.face)
        if face is None:  # gone meanwhile (marked "not a face"...): ask the next one
            self.show_next()
            return
        # In a person (a suggestion): it leaves it for good; in none: remember "not this one".
        self._decide(f"Face {q.face} is not {self._name(q.into)}", ops.reject, [q.face],
                     None if face.person_id is not None else q.into)

    def _decide(self, text: str, operation, *args) -> None:
        if self.context.decide(text, operation, *args):  # the views (and this page) reload
            self._answers.append(self.context.undo.command(self.context.undo.index() - 1))
            self._show_progress()

    def skip_question(self) -> None:
        if self.question is None or not self._answerable():
            return
        self.skipped.add(self.question.key)
        self.show_next()

    def undo(self) -> None:
        self.context.step(False)

