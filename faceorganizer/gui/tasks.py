"""The jobs the window runs in the background, made from what its parts share (the context):
preparing the face models, scanning folders, regrouping faces, switching the weights, adding
a face the user drew, writing names into files."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from faceorganizer.errors import FaceorganizerError
from faceorganizer.jobs import GroupingFinished, GroupingStarted, reembed_and_group, scan_and_group
from faceorganizer.models.weights import resolve
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import load_settings
from faceorganizer.reembed import record, stale_faces

from .context import AppContext
from .jobs import Job
from .worker import Job as Work

if TYPE_CHECKING:
    from faceorganizer.tagwriter import WriteReport

log = logging.getLogger(__name__)


def warm_up(context: AppContext) -> Job:
    """Load the face models, so the first scan starts at once (and a first run that must
    prepare the weights says so); finish a switch of weights that was interrupted."""
    models, library = context.models, context.library

    def work(cancel: threading.Event) -> Iterator[object]:
        loaded = models.get()
        load = getattr(loaded.embedder, "load", None)
        if load is not None:  # the embedder builds itself lazily; do it now, not mid-scan
            load()
        yield "Face models ready"
        if stale_faces(library):
            yield from reembed_and_group(library, models.get, cancel=cancel)

    return Job("Preparing the face models...", work)


def scan(context: AppContext, folders: Sequence[str], *, retry_failed: bool = False,
         new_root: bool = False) -> Job:
    """Scan ``folders`` and regroup; ``retry_failed``: read the files that failed again;
    ``new_root``: add a folder beside folders of a shared library not located here."""
    library, models, settings = context.library, context.models, context.scan_settings()
    folders = list(folders)

    def work(cancel: threading.Event) -> Iterator[object]:
        # the people settings are read when the job runs: a change made while it waited counts
        yield from scan_and_group(library, folders, models.get, settings, None, cancel,
                                  retry_failed=retry_failed, new_root=new_root)

    names = ", ".join(Path(f).name or f for f in folders)
    return Job(f"Reading the files that failed in {names} again..." if retry_failed
               else f"Scanning {names}...", work)


def regroup(context: AppContext, *, only_if_stale: bool = False) -> Job:
    """Group the faces into people; ``only_if_stale``: only if faces changed since the last
    grouping (a face was added)."""
    library = context.library

    def work(cancel: threading.Event) -> Iterator[object]:
        yield GroupingStarted()
        yield GroupingFinished(recluster(library, load_settings(library),  # as they are by then
                                         only_if_stale=only_if_stale))

    return Job("Grouping faces into people...", work)


def switch_weights(context: AppContext, path: str | None) -> Job:
    """Record other FaceNet weights (``path``, None for the built-in ones), then re-embed every
    face and regroup. Checking the file (hashing it, reading what training wrote in it) is
    part of the job, off the GUI thread; a file that is not usable weights is its error."""
    library, models, settings = context.library, context.models, context.scan_settings()

    def work(cancel: threading.Event) -> Iterator[object]:
        record(library, resolve(path, use_env=False, prepare_missing=False))
        models.reset()
        # people settings are read after the switch: they follow the new weights' scale
        yield from reembed_and_group(library, models.get, settings, None, cancel)

    return Job("Re-embedding the faces with the new weights...", work)


# ---- a face the user drew ----------------------------------------------------------------


@dataclass(frozen=True)
class FaceAdded:
    photo_id: int
    face_id: int
    box: tuple[float, float, float, float]  # as stored: clipped to the photo


@dataclass(frozen=True)
class FaceNotAdded:
    message: str  # why, for the user (the box is too small, the photo changed...)


def add_face(context: AppContext, photo_id: int, box: tuple[float, float, float, float]) -> Work:
    """Cut the face at ``box`` (displayed pixels) out of the photo and embed it as a new face
    (``drawn.add_face``), with the app's embedder, off the GUI thread: one FaceAdded or one
    FaceNotAdded."""
    library, models, settings = context.library, context.models, context.scan_settings()

    def work(cancel: threading.Event) -> Iterator[object]:
        from faceorganizer.drawn import DrawnFaceError
        from faceorganizer.drawn import add_face as add

        try:
            added = add(library, photo_id, box, models.get().embedder, settings)
        except DrawnFaceError as exc:
            yield FaceNotAdded(str(exc))
            return
        yield FaceAdded(photo_id, added.face, added.box)

    return work


# ---- names written into files -----------------------------------------------------------


@dataclass(frozen=True)
class WriteProgress:
    tag: object  # whose writing this is (the one that submitted it)
    done: int
    total: int


@dataclass(frozen=True)
class WriteFinished:
    tag: object
    report: WriteReport | None  # None when it could not run at all (then ``error``)
    cancelled: bool
    error: str | None
    automatic: bool  # after a decision (the setting), not asked for


PROGRESS_EVERY = 0.1  # seconds between progress events


def write_names(context: AppContext, *, embed: bool = False,
                photo_ids: Callable[[], Sequence[int]] | None = None,
                automatic: bool = False, tag: object = None) -> Job:
    """Write the library's names into the photos' files (``tagwriter.write_tags``): sidecars,
    or into the photos themselves with ``embed``; every photo, or those ``photo_ids()`` gives
    when the job starts. Events: WriteProgress, then one WriteFinished; nothing is raised
    (a library that cannot be read is the WriteFinished's error), so that writing after
    every decision never pops up a message box."""
    library = context.library

    def work(cancel: threading.Event) -> Iterator[object]:
        ids = list(photo_ids()) if photo_ids is not None else None
        events: queue.SimpleQueue[object] = queue.SimpleQueue()
        outcome: dict[str, object] = {}
        done = object()

        def run() -> None:
            try:
                from faceorganizer.tagwriter import write_tags

                outcome["report"] = write_tags(
                    library, embed=embed, photo_ids=ids, cancel=cancel,
                    progress=lambda finished, total: events.put(WriteProgress(tag, finished, total)))
            except FaceorganizerError as exc:
                outcome["error"] = str(exc)
            except Exception as exc:
                log.exception("writing names failed")
                outcome["error"] = f"Something went wrong: {type(exc).__name__}: {exc}"
            finally:
                events.put(done)

        threading.Thread(target=run, name="write-names", daemon=True).start()
        last = 0.0
        while (event := events.get()) is not done:
            assert isinstance(event, WriteProgress)
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY or event.done == event.total:
                last = now
                yield event
        error = outcome.get("error")
        yield WriteFinished(tag, cast("WriteReport | None", outcome.get("report")), cancel.is_set(),
                            str(error) if error is not None else None, automatic)

    return Job("Writing names to sidecar files..." if automatic else "Writing names to files...",
               work, reloads=False)
