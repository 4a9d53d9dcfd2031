"""The jobs the window runs in the background, made from what its parts share (the context):
preparing the face models, scanning folders, regrouping faces, switching the weights."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from faceorganizer.jobs import GroupingFinished, GroupingStarted, reembed_and_group, scan_and_group
from faceorganizer.models.weights import resolve
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import load_settings
from faceorganizer.reembed import record, stale_faces

from .context import AppContext
from .jobs import Job


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


def scan(context: AppContext, folders: Sequence[str], *, retry_failed: bool = False) -> Job:
    """Scan ``folders`` and regroup; ``retry_failed``: read the files that failed again."""
    library, models, settings = context.library, context.models, context.scan_settings()
    folders = list(folders)

    def work(cancel: threading.Event) -> Iterator[object]:
        # the people settings are read when the job runs: a change made while it waited counts
        yield from scan_and_group(library, folders, models.get, settings, None, cancel,
                                  retry_failed=retry_failed)

    names = ", ".join(Path(f).name or f for f in folders)
    return Job(f"Reading the files that failed in {names} again..." if retry_failed
               else f"Scanning {names}...", work)


def regroup(context: AppContext) -> Job:
    library = context.library

    def work(cancel: threading.Event) -> Iterator[object]:
        yield GroupingStarted()
        yield GroupingFinished(recluster(library, load_settings(library)))  # as they are by then

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
