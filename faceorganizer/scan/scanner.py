"""The scan: walk folders, decide what changed, find faces, write them in small batches.

Unchanged files (same size and mtime) are not read. Changed and new files are
read once: hashed, then decoded and analysed on a pool of worker threads while
the scanning thread embeds finished crops in batches across photos and commits
them. Each commit holds a batch of photos with their faces, so a killed scan
loses at most that batch; a rerun sees what was committed as unchanged.

A file whose content matches a photo that is gone from its old path is a move:
the photo row takes the new path and keeps its faces and their ids. Photos no
longer found are marked missing, never deleted (see ``purge``).
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from faceorganizer.analysis import AnalyzedPhoto, add_regions, decode, find_faces
from faceorganizer.cores import busy
from faceorganizer.imaging import DecodedPhoto, ImageError
from faceorganizer.models.base import EMBEDDING_SIZE, Models
from faceorganizer.paths import absolute
from faceorganizer.people.tags import TagConflict, apply_file_names
from faceorganizer.scan.events import (
    Failure,
    ScanEvent,
    ScanFinished,
    ScanProgress,
    ScanStarted,
    ScanSummary,
)
from faceorganizer.scan.walker import FoundFile, WalkProblem, walk
from faceorganizer.settings import ScanSettings
from faceorganizer.sidecars import FileRegions, file_regions
from faceorganizer.space import EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.errors import LibraryAccessError
from faceorganizer.store.faces import set_faces
from faceorganizer.store.photos import (
    KnownPhoto,
    content_hashes,
    current_rows,
    mark_missing,
    missing_by_hash,
    photos_under,
    places_of,
)
from faceorganizer.store.records import (
    WeightsRecord,
    bump_faces_revision,
    put_weights_record,
    weights_record,
)
from faceorganizer.store.roots import ensure_root, relative
from faceorganizer.store.scans import claim, others, registered, release
from faceorganizer.store.schema import Face, Photo, Root, utcnow
from faceorganizer.store.states import PhotoStatus

# Files larger than this are not read into memory.
MAX_FILE_BYTES = 1 << 30
# A commit holds at most this many photos (and is made sooner once enough faces wait).
COMMIT_PHOTOS = 16
# Files claimed at a time, just before they are read, when several scans may run at once; and how
# long a scan waits before it looks again at files another one held.
CLAIM_AHEAD = 16
CLAIM_RETRY = 1.0
# Photos decoded ahead while the models are still loading.
PREFETCH_WHILE_LOADING = 32
# Finished photos held while an earlier one (a large photo, say) is still being worked on.
READY_AHEAD = 64


ModelsFactory = Callable[[], Models]


@dataclass
class _ScanPlan:
    """What the walk found: the files to read and how the others stand."""

    work: list[_Work] = field(default_factory=list)
    unchanged: int = 0
    still_failed: int = 0
    restored: dict[int, str] = field(default_factory=dict)  # missing photo id -> its status now
    gone: dict[int, str] = field(default_factory=dict)  # photo id -> status, not found any more
    gone_at: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # where it was not found
    failures: list[Failure] = field(default_factory=list)
    bad_names: list[tuple[str, str, int, str]] = field(default_factory=list)  # path, reason, root, rel
    problems: list[Failure] = field(default_factory=list)
    candidates: dict[str, list[int]] = field(default_factory=dict)  # hash -> photos a move may take
    candidate_at: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # where each one was


@dataclass(frozen=True)
class _Work:
    path: str  # where the file is on this machine
    root_id: int
    rel: str  # where it is in its root, as the library keeps it
    size: int
    mtime_ns: int
    known: KnownPhoto | None
    allow_move: bool
    sidecar: str | None = None
    sidecar_key: str | None = None
    # analyse again even if the content is unchanged: its sidecar changed, or another
    # detector analysed it
    reanalyse: bool = False


@dataclass(frozen=True)
class _Result:
    work: _Work
    content_hash: str | None


@dataclass(frozen=True)
class _Decoded(_Result):
    """Read and decoded, waiting for the detector."""

    data: bytes
    decoded: DecodedPhoto
    regions: FileRegions


@dataclass(frozen=True)
class _Analyzed(_Result):
    photo: AnalyzedPhoto
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Moved(_Result):
    """Same content as a photo gone from its old path; ``photo_id`` is set once one is chosen."""

    photo_id: int | None = None


@dataclass(frozen=True)
class _Touched(_Result):
    """Same content as the stored photo: only the file's mtime changed."""


@dataclass(frozen=True)
class _Failed(_Result):
    error: str


@dataclass(frozen=True)
class _Elsewhere(_Result):
    """Another scan running at once has the file: done already (``done``), or claimed, to be
    looked at again at the end."""

    done: bool = True


def _check_space(session: Session, space: EmbeddingSpace) -> None:
    """New faces go into the library's embedding space (recorded by the first scan)."""
    record = weights_record(session)
    if record is None:
        put_weights_record(session, WeightsRecord(None, space))
    else:
        record.space.check(space, "the faces of this scan")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _analysis_error(exc: BaseException) -> str:
    if isinstance(exc, ImageError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory to process this image"
    return f"unexpected error while reading the image ({type(exc).__name__}: {exc})"


def _read_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied: the file cannot be read"
    if isinstance(exc, FileNotFoundError):
        return "the file disappeared during the scan"
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a file"
    return f"cannot read the file: {exc.strerror or exc}"


class Scanner:
    """Scans folders into a library. Iterate :meth:`scan` to run it; set ``cancel`` to stop.

    A file that failed and has not changed since (size and mtime) is not read again unless
    ``retry_failed``: it is reported as failed, with the reason recorded when it failed.
    """

    def __init__(self, library: Library, models: ModelsFactory,
                 settings: ScanSettings | None = None,
                 cancel: threading.Event | None = None, *, retry_failed: bool = False,
                 new_root: bool = False) -> None:
        self.library = library
        self.retry_failed = retry_failed
        self.new_root = new_root  # add a folder as a root of its own beside roots unmapped here
        self.saved = 0  # photos committed by this scan
        self.tag_conflicts: list[TagConflict] = []  # names in files the library decided otherwise on
        self.warnings: list[Failure] = []  # what was wrong with photos' face regions (XMP)
        self._models_factory = models
        self._models: Models | None = None
        self.settings = settings or ScanSettings()
        self.cancel = cancel or threading.Event()
        self._models_lock = threading.Lock()
        self._scan_id = 0  # this scan's registration (store.scans), while it runs
        self._candidate_at: dict[int, tuple[int | None, str]] = {}
        self._slots = threading.BoundedSemaphore(self.settings.workers)  # compute threads at once

    @property
    def models(self) -> Models:
        """The detector and embedder, made on first use (a scan of unchanged files needs neither)."""
        with self._models_lock:
            if self._models is None:
                self._models = self._models_factory()
            return self._models

    # ---- worker side -------------------------------------------------------------------

    def _prepare(self, work: _Work, move_hashes: frozenset[str]) -> _Result:
        """Read, hash and (unless it is a move or a touch) decode one file. Never raises."""
        try:
            if work.size > MAX_FILE_BYTES:
                return _Failed(work, None, f"the file is {work.size / 2**30:.1f} GB, too large "
                                           "to be a photo faceorganizer can read")
            data = read_bytes(work.path)
        except OSError as exc:
            return _Failed(work, None, _read_error(exc))
        content_hash = hashlib.sha256(data).hexdigest()
        known = work.known
        if (known is not None and known.status == PhotoStatus.OK and known.content_hash == content_hash
                and not work.reanalyse):
            return _Touched(work, content_hash)
        if work.allow_move and content_hash in move_hashes:
            return _Moved(work, content_hash)
        try:
            regions = file_regions(data, work.sidecar)
            return _Decoded(work, content_hash, data, decode(data, self.settings, regions.orientation),
                            regions)
        except Exception as exc:  # never let one file end the scan
            return _Failed(work, content_hash, _analysis_error(exc))

    def _detect(self, item: _Decoded, models: Models) -> _Result:
        """Find and crop the faces of a decoded photo. Never raises."""
        try:
            with self._slots:
                photo = find_faces(item.data, item.decoded, models.detector, self.settings)
                photo = add_regions(item.data, item.decoded, photo, item.regions.regions, self.settings)
        except Exception as exc:
            return _Failed(item.work, item.content_hash, _analysis_error(exc))
        return _Analyzed(item.work, item.content_hash, photo, tuple(item.regions.warnings))

    # ---- scanning thread ---------------------------------------------------------------

    def scan(self, folders: Sequence[str | Path]) -> Iterator[ScanEvent]:
        started = time.monotonic()
        names = tuple(str(absolute(f)) for f in folders)
        offline = tuple(f for f in names if not Path(f).is_dir())
        online = [f for f in names if f not in offline]

        with registered(self.library) as self._scan_id:
            with self.library.session() as session:
                running = others(session, self._scan_id)
                roots = {f: ensure_root(session, f, shared=self.library.shared, new_root=self.new_root,
                                        others_running=running) for f in online}
            yield from self._scan(started, names, offline, online, roots)

    def _scan(self, started: float, names: tuple[str, ...], offline: tuple[str, ...], online: list[str],
              roots: dict[str, tuple[int, str]]) -> Iterator[ScanEvent]:
        plan = self._plan(online, roots)
        failures = list(plan.failures)
        self._record_failed_names(plan.bad_names)
        if plan.restored:
            with self.library.session() as session:
                for photo_id, status in plan.restored.items():
                    session.execute(update(Photo).where(Photo.id == photo_id).values(status=status))

        yield ScanStarted(total=len(plan.work), unchanged=plan.unchanged)
        counts = {"new": 0, "changed": 0, "moved": 0, "failed": len(failures), "faces": 0}
        moved_ids: set[int] = set()
        self._candidate_at = plan.candidate_at
        yield from self._run(plan.work, plan.candidates, counts, failures, moved_ids)

        cancelled = self.cancel.is_set()
        missing_ids = [i for i in plan.gone if i not in moved_ids]
        with self.library.session() as session:
            if not cancelled:
                # only where the photo still is where it was not found: another scan running at
                # once may have found it moved meanwhile
                missing_ids = mark_missing(session, {i: plan.gone_at[i] for i in missing_ids
                                                     if plan.gone[i] != PhotoStatus.MISSING})
                for root_id in {root_id for root_id, _ in roots.values()}:
                    root = session.get(Root, root_id)
                    if root is not None:
                        root.last_scan_at = utcnow()
        summary = ScanSummary(
            roots=names, new=counts["new"], unchanged=plan.unchanged + counts.get("touched", 0),
            changed=counts["changed"], moved=counts["moved"],
            missing=0 if cancelled else len(missing_ids), failed=counts["failed"],
            elsewhere=counts.get("elsewhere", 0),
            still_failed=plan.still_failed, faces=counts["faces"],
            seconds=time.monotonic() - started, cancelled=cancelled,
            failures=tuple(failures), offline_roots=offline, problems=tuple(plan.problems),
            tag_conflicts=tuple(self.tag_conflicts), warnings=tuple(self.warnings))
        yield ScanFinished(summary)

    def _plan(self, online: list[str], roots: dict[str, tuple[int, str]]) -> _ScanPlan:
        """Walk the folders and sort every file: unchanged, to read, restored, failed before."""
        plan = _ScanPlan()
        found_ids: set[int] = set()
        gone_candidates: list[int] = []
        with self.library.reader() as session:
            for folder in online:
                known = photos_under(session, folder, roots[folder])
                found: set[str] = set()
                for item in walk(folder):
                    if isinstance(item, WalkProblem):
                        plan.problems.append(Failure(item.path, item.reason))
                        continue
                    found.add(item.path)
                    old = known.get(item.path)
                    if old is not None:
                        found_ids.add(old.id)
                    if item.name_error:
                        plan.failures.append(Failure(item.path, item.name_error))
                        root_id, root_path = roots[folder]
                        plan.bad_names.append((item.path, item.name_error, root_id,
                                               relative(item.path, root_path)))
                        continue
                    self._sort(plan, item, old, roots[folder])
                for path, old in known.items():
                    if path not in found:
                        plan.gone[old.id] = old.status
                        plan.gone_at[old.id] = (old.root_id, old.rel)
                        if old.status != PhotoStatus.MISSING:
                            gone_candidates.append(old.id)
            candidates = missing_by_hash(session)
            for content_hash, photo_id in content_hashes(session, gone_candidates):
                candidates.setdefault(content_hash, []).append(photo_id)
        # A photo found at its own path is not a move candidate, even while marked missing:
        # it is back (restored), and a copy of it elsewhere is a photo of its own.
        for content_hash in list(candidates):
            kept = [i for i in candidates[content_hash] if i not in found_ids]
            if kept:
                candidates[content_hash] = kept
            else:
                del candidates[content_hash]
        plan.candidates = candidates
        with self.library.reader() as session:
            plan.candidate_at = places_of(session, [i for ids in candidates.values() for i in ids])
        return plan

    def _sort(self, plan: _ScanPlan, item: FoundFile, old: KnownPhoto | None,
              root: tuple[int, str]) -> None:
        """Decide what one found file needs."""
        reanalyse = old is not None and (old.sidecar != item.sidecar_key or (
            old.status == PhotoStatus.OK and old.detector not in (None, self.settings.detector)))
        same_file = old is not None and not reanalyse and (old.size, old.mtime_ns) == (
            item.size, item.mtime_ns)
        if old is not None and same_file:
            failed_before = old.status == PhotoStatus.FAILED or (
                old.status == PhotoStatus.MISSING and old.error is not None)
            if not failed_before:
                plan.unchanged += 1
                if old.status == PhotoStatus.MISSING:
                    plan.restored[old.id] = PhotoStatus.OK
                return
            if not self.retry_failed:  # failed, and unchanged since: do not read it again
                plan.still_failed += 1
                plan.failures.append(Failure(item.path, old.error or "could not be read"))
                if old.status == PhotoStatus.MISSING:
                    plan.restored[old.id] = PhotoStatus.FAILED
                return
        root_id, root_path = root
        rel = relative(item.path, root_path)
        plan.work.append(_Work(item.path, root_id, rel, item.size, item.mtime_ns, old,
                               allow_move=old is None, sidecar=item.sidecar,
                               sidecar_key=item.sidecar_key, reanalyse=reanalyse))

    def _record_failed_names(self, bad_names: list[tuple[str, str, int, str]]) -> None:
        if not bad_names:
            return
        with self.library.session() as session:
            for _path, error, root_id, rel in bad_names:
                photo = session.query(Photo).filter_by(root_id=root_id, rel=rel).one_or_none()
                if photo is None:
                    photo = Photo(rel=rel, size=0, mtime_ns=0, root_id=root_id)
                    session.add(photo)
                photo.status, photo.error = PhotoStatus.FAILED, error

    def _run(self, work: list[_Work], candidates: dict[str, list[int]], counts: dict[str, int],
             failures: list[Failure], moved_ids: set[int]) -> Iterator[ScanProgress]:
        """Two stages on the worker pool: read+decode, then detect. The models load on their
        own thread meanwhile (importing torch takes seconds), so the first photos are
        decoded by the time the detector is ready.

        Results are taken in the order the files were found, whatever order the workers
        finish them in: the same folder gives the same library (ids, which copy of a moved
        file keeps its faces), scan after scan."""
        total = len(work)
        if not total:
            return
        with busy() as share:
            done = 0
            while work and not self.cancel.is_set():
                deferred = yield from self._run_shared(work, candidates, counts, failures, moved_ids,
                                                       share, done, total)
                done += len(work) - len(deferred)
                if deferred:  # claimed by another scan running at once: done by it, or lapsed
                    self.cancel.wait(CLAIM_RETRY)
                work = deferred

    def _claim_ahead(self, queue: deque[tuple[int, _Work]], ready: dict[int, _Result],
                     deferred: list[_Work]) -> int:
        """Claim the next files of ``queue`` before they are read, so that another scan running at
        once leaves them alone; those it has done already, or holds, are set aside (``ready``
        as :class:`_Elsewhere`; held ones also in ``deferred``, to look at again at the end).
        The position after the last file looked at."""
        chunk = [queue.popleft() for _ in range(min(CLAIM_AHEAD, len(queue)))]
        with self.library.session() as session:
            rows = current_rows(session, [(w.root_id, w.rel) for _, w in chunk])
            done = {p for p, w in chunk if (row := rows.get((w.root_id, w.rel))) is not None
                    and self._up_to_date(row, w)}  # another scan did these meanwhile: not claimed
            _, busy = claim(session, self._scan_id,
                            [(w.root_id, w.rel) for p, w in chunk if p not in done])
        keep = []
        for position, work in chunk:
            key = (work.root_id, work.rel)
            if position in done:
                ready[position] = _Elsewhere(work, None)
                continue
            if key in busy:
                ready[position] = _Elsewhere(work, None, done=False)
                deferred.append(work)
                continue
            row = rows.get(key)
            if (row.id if row else None) != (work.known.id if work.known else None):
                work = replace(work, known=row, allow_move=row is None)
            keep.append((position, work))
        queue.extendleft(reversed(keep))
        return chunk[-1][0] + 1

    def _up_to_date(self, row: KnownPhoto, work: _Work) -> bool:
        """Whether the library's row for ``work``'s file already holds what analysing it would
        write (another scan running at once did it)."""
        if (row.size, row.mtime_ns, row.sidecar) != (work.size, work.mtime_ns, work.sidecar_key):
            return False
        if row.status == PhotoStatus.OK:
            return row.detector in (None, self.settings.detector)
        return row.status == PhotoStatus.FAILED and not self.retry_failed

    def _take_candidate(self, ids: list[int]) -> int | None:
        """The first photo of ``ids`` (gone from where it was, same content as a file found) that
        is still where it was and that no other scan running at once is taking; claimed."""
        with self.library.session() as session:
            now = places_of(session, ids)
            for photo_id in ids:
                where = self._candidate_at.get(photo_id)
                if where is None or now.get(photo_id) != where or where[0] is None:
                    continue
                mine, _ = claim(session, self._scan_id, [(where[0], where[1])])
                if mine:
                    return photo_id
        return None

    def _run_shared(self, work: list[_Work], candidates: dict[str, list[int]], counts: dict[str, int],
                    failures: list[Failure], moved_ids: set[int], share: int, done_before: int = 0,
                    grand_total: int | None = None) -> Generator[ScanProgress, None, list[_Work]]:
        # No more compute threads than this process's share of the cores (faceorganizer.cores):
        # detection and embedding each take a slot, and torch's own threads are shared out.
        workers = min(self.settings.workers, share)
        self._slots = threading.BoundedSemaphore(workers)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(max(1, share // workers))
        total = len(work)
        grand_total = grand_total or total
        move_hashes = frozenset(candidates)
        queue = deque(enumerate(work))
        deferred: list[_Work] = []
        claimed_upto = 0  # positions below this were claimed (or set aside)
        running: dict[Future[_Result], int] = {}  # future -> position of its file in ``work``
        waiting: list[tuple[int, _Decoded]] = []
        ready: dict[int, _Result] = {}  # finished, waiting for the files found before them
        taken = 0  # results taken, in order
        pending: list[_Result] = []
        pending_faces = 0
        begun = time.monotonic()
        steady = 2 * workers + 1
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceorganizer-models")
        models_ready = loader.submit(lambda: self.models)
        # Detection can start as soon as the detector is there; the embedder follows.
        embedder_ready = loader.submit(self._warm_embedder)
        pool = ThreadPoolExecutor(max_workers=workers,
                                  thread_name_prefix="faceorganizer-scan")
        try:
            while taken < total:
                if self.cancel.is_set():
                    break
                if embedder_ready.done():
                    embedder_ready.result()  # raises if the embedder could not be loaded
                if models_ready.done():
                    models = models_ready.result()  # raises if the models could not be loaded
                    for position, decoded in waiting:
                        running[pool.submit(self._detect, decoded, models)] = position
                    waiting.clear()
                limit = steady if models_ready.done() else PREFETCH_WHILE_LOADING
                while queue and len(running) + len(waiting) < limit and len(ready) < READY_AHEAD:
                    if queue[0][0] >= claimed_upto:
                        claimed_upto = self._claim_ahead(queue, ready, deferred)
                        if not queue or queue[0][0] >= claimed_upto:
                            continue
                    position, item = queue.popleft()
                    running[pool.submit(self._prepare, item, move_hashes)] = position
                watched: set[Future[Any]] = set(running)
                if not models_ready.done():
                    watched.add(models_ready)
                finished, _ = wait(watched, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished & running.keys():
                    position = running.pop(future)
                    result = future.result()
                    if isinstance(result, _Decoded):
                        if models_ready.done():
                            running[pool.submit(self._detect, result, models_ready.result())] = position
                        else:
                            waiting.append((position, result))
                    else:
                        ready[position] = result
                while taken in ready:
                    result = ready.pop(taken)
                    if isinstance(result, _Moved):
                        ids = candidates.get(result.content_hash or "", [])
                        photo_id = self._take_candidate(ids) if ids else None
                        if photo_id is None:
                            # a second copy of a moved file (or another scan took the photo):
                            # it is a new photo
                            candidates.pop(result.content_hash or "", None)
                            retry = replace(result.work, allow_move=False)
                            running[pool.submit(self._prepare, retry, move_hashes)] = taken
                            break
                        ids.remove(photo_id)
                        result = replace(result, photo_id=photo_id)
                        moved_ids.add(photo_id)
                    taken += 1
                    if isinstance(result, _Elsewhere):
                        if result.done:
                            counts["elsewhere"] = counts.get("elsewhere", 0) + 1
                        continue
                    pending.append(result)
                    if isinstance(result, _Analyzed):
                        pending_faces += len(result.photo.faces)
                    self._count(result, counts, failures)
                    if pending_faces >= self.settings.embed_batch or len(pending) >= COMMIT_PHOTOS:
                        batch, pending, pending_faces = pending, [], 0
                        self._flush(batch)
                    elapsed = time.monotonic() - begun
                    rate = taken / elapsed if elapsed > 0 else 0.0
                    yield ScanProgress(done=done_before + taken, total=grand_total, faces=counts["faces"],
                                       rate=rate, eta=(total - taken) / rate if rate > 0 else None,
                                       path=result.work.path)
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=True)
            loader.shutdown(wait=True)
            if pending:  # what is done is kept (a cancel, or an error elsewhere)
                batch, pending = pending, []
                self._flush(batch)
        return deferred

    def _warm_embedder(self) -> None:
        load = getattr(self.models.embedder, "load", None)
        if load is not None:
            load()

    @staticmethod
    def _count(result: _Result, counts: dict[str, int], failures: list[Failure]) -> None:
        if isinstance(result, _Failed):
            counts["failed"] += 1
            failures.append(Failure(result.work.path, result.error))
        elif isinstance(result, _Moved):
            counts["moved"] += 1
        elif isinstance(result, _Touched):
            counts["touched"] = counts.get("touched", 0) + 1
        elif isinstance(result, _Analyzed):
            counts["changed" if result.work.known else "new"] += 1
            counts["faces"] += len(result.photo.faces)

    def _flush(self, results: list[_Result]) -> None:
        """Embed the batch's crops in one pass and commit the batch in one transaction. When the
        library cannot be written (a full disk...), the error says how much of the scan is kept."""
        try:
            self._write(results)
        except LibraryAccessError as exc:
            raise exc.with_kept(
                f"{self.saved} photo{'' if self.saved == 1 else 's'} of this scan were saved before it "
                "stopped, and nothing after; run the scan again and it goes on where it stopped.") from exc
        self.saved += len(results)

    def _write(self, results: list[_Result]) -> None:
        crops = [face.crop for r in results if isinstance(r, _Analyzed) for face in r.photo.faces]
        embedder = self.models.embedder if crops else None
        if embedder is not None:
            with self._slots:
                embeddings = embedder.embed(np.stack(crops))
        else:
            embeddings = np.zeros((0, EMBEDDING_SIZE), np.float32)
        offset = 0
        with self.library.session() as session:
            if embedder is not None:
                _check_space(session, embedder.space)
            if crops or any(isinstance(r, _Analyzed) and r.work.known for r in results):
                bump_faces_revision(session)
            named: list[tuple[str, Face, str]] = []  # faces the photos' files name
            released: list[tuple[int | None, str]] = [(r.work.root_id, r.work.rel) for r in results]
            for result in results:
                work = result.work
                if isinstance(result, _Moved):
                    photo = session.get(Photo, result.photo_id)
                    assert photo is not None
                    released.append((photo.root_id, photo.rel))
                    photo.rel, photo.root_id = work.rel, work.root_id
                else:
                    photo = session.get(Photo, work.known.id) if work.known else None
                    if photo is None:  # never a second row for one file, whoever wrote it first
                        photo = session.scalars(select(Photo).where(
                            Photo.root_id == work.root_id, Photo.rel == work.rel)).first()
                    if photo is None:
                        photo = Photo(rel=work.rel, root_id=work.root_id)
                        session.add(photo)
                photo.size, photo.mtime_ns, photo.sidecar = work.size, work.mtime_ns, work.sidecar_key
                if result.content_hash is not None:
                    photo.content_hash = result.content_hash
                if isinstance(result, _Failed):
                    photo.status, photo.error = PhotoStatus.FAILED, result.error
                    continue
                photo.status, photo.error = PhotoStatus.OK, None
                if isinstance(result, _Analyzed):
                    info, faces = result.photo.info, result.photo.faces
                    photo.width, photo.height, photo.taken_at = info.width, info.height, info.taken_at
                    photo.warning = "\n".join(result.warnings) or None
                    photo.detector = self.settings.detector
                    self.warnings.extend(Failure(work.path, w) for w in result.warnings)
                    assert embedder is not None or not faces
                    rows = set_faces(session, photo, [f.detection for f in faces],
                                     embeddings[offset:offset + len(faces)],
                                     embedder.space.model_id if embedder is not None else "",
                                     [f.origin for f in faces], self.settings.detector)
                    offset += len(faces)
                    named.extend((work.path, row, f.name) for row, f in zip(rows, faces, strict=True)
                                 if f.name)
            if named:
                session.flush()
                self.tag_conflicts.extend(apply_file_names(session, named))
            release(session, self._scan_id, [(r, p) for r, p in released if r is not None])
