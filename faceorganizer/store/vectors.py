"""Face embeddings kept in the database as pgvector vectors, for search on the server.

On a library on a PostgreSQL server whose database has the ``vector`` extension (pgvector 0.8
or later), the embeddings of the searchable faces are copied into a table of their own::

    face_vectors (face_id integer PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
                  model varchar(64) NOT NULL, embedding vector(D))

with an HNSW index on the inner product (``vector_ip_ops``): for unit vectors the squared L2
distance the rest of faceorganizer uses is ``2 - 2 * dot``, so the inner-product order is the
distance order. ``D`` follows the data (the most common length of the stored embeddings, 512
for FaceNet). The schema module stays as it is: these tables are derived, and can be dropped at
any time (:func:`drop`); the next search rebuilds them.

Keeping it in step (:func:`sync`, run by each search index that loads):

- faces deleted leave it by the foreign key's cascade;
- a face whose embedding or weights change keeps its id, so a row trigger on ``faces``
  (``AFTER UPDATE OF embedding, embedding_model``) deletes its row at once;
- a statement trigger (``AFTER INSERT OR UPDATE OF embedding, embedding_model, ignored``)
  counts the changes that may make a face searchable in ``face_vectors_state``, which also
  holds the count at the last complete sync: a search loads in a few catalog reads, without
  reading the faces or taking the write lock, when the two are equal (the usual case);
- otherwise the sync copies the comparable faces that have no row (an anti-join), in batches,
  each its own unit of work under the library's write lock, so another machine's writers wait
  at most one batch; rows of other weights (after a switch) are deleted first;
- an embedding that cannot be searched (not finite, or of another length) is kept as a row with
  no vector: it is reported (:attr:`SyncReport.unusable`), never copied again, never found,
  exactly as the in-process index skips it (:func:`usable`).

The tables and the triggers are created under the write lock. The HNSW index is built after
the rows are copied (much faster than inserting into a graph row by row) with ``CREATE INDEX
CONCURRENTLY``, outside any transaction: building it over 100,000 faces takes half a minute or
more on a small server, and under the write lock it would make every other machine's writer
fail with a lock timeout; concurrently, nobody waits for it. One machine builds it at a time (an
advisory lock); until it is valid, searches of the graph are exact scans.

Searches (:func:`nearest`) either scan the table exactly (the vectors are stored in the row,
not out of line, for that) or walk the HNSW index, which is approximate: see
:mod:`faceorganizer.people.search` for which, and why. Ignored faces keep their rows (ignoring
is a decision, undone in one step): searches filter them out by joining ``faces``. Rows are read
and written within the library's own units of work; the copy itself is the driver's binary
COPY, with the vectors encoded by numpy.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from faceorganizer.store import migrations
from faceorganizer.store.database import Library
from faceorganizer.store.schema import Face

TABLE = "face_vectors"
INDEX = "face_vectors_hnsw"
STATE = "face_vectors_state"  # one row: the rows' weights, the faces' change counter, its value synced
TRIGGER = "faceorganizer_face_vectors_stale"  # a trigger on faces and its function
COUNTER = "faceorganizer_face_vectors_changed"  # another one
FACES = Face.__tablename__
MIN_VERSION = (0, 8, 0)  # hnsw.iterative_scan, which search needs to read past ef_search
# Another machine builds the index while this advisory lock is held ('FOrg' + 1).
BUILD_LOCK = migrations.APPLICATION_ID + 1
# Faces copied per unit of work: small where the index exists (each insert walks the graph,
# under the write lock), large where it is built afterwards.
BATCH_INDEXED = 2_000
BATCH_BULK = 20_000
HNSW_OPTIONS = "m = 16, ef_construction = 64"  # pgvector's defaults
BUILD_WAIT = 60  # seconds the index build waits for transactions open when it starts


class VectorsError(Exception):
    """The vectors cannot be kept on this server; ``str()`` says why, for people."""


@dataclass(frozen=True)
class Extension:
    """pgvector as installed in the library's database: its version and its schema."""

    version: str
    schema: str

    @property
    def _schema(self) -> str:
        return '"' + self.schema.replace('"', '""') + '"'

    def name(self, thing: str) -> str:
        """``thing`` (a type, operator class) qualified by the extension's schema, which need not
        be on the search path."""
        return f"{self._schema}.{thing}"

    @property
    def inner_product(self) -> str:
        return f"OPERATOR({self._schema}.<#>)"


@dataclass
class SyncReport:
    """What one :func:`sync` did."""

    added: int = 0  # faces copied with their vector
    unusable: int = 0  # of those, faces whose stored embedding is not finite or of another length
    removed: int = 0  # rows of other weights deleted
    created: bool = False  # the table (re)created
    index_seconds: float | None = None  # the HNSW index (re)built, in that long
    seconds: float = 0.0


# ---- which stored embeddings can be searched (both indexes follow this rule) -----------------


def common_dimension(lengths: dict[int, int]) -> int | None:
    """The dimension of a library's embeddings from {byte length: number of faces}: the most
    common whole number of float32s (ties: the larger); None without any."""
    whole = [(count, size // 4) for size, count in lengths.items() if size and size % 4 == 0]
    return max(whole)[1] if whole else None


def usable(blobs: Sequence[bytes | None], dimension: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the blobs that are ``dimension`` finite float32s, their vectors as an (n, d)
    float32 matrix). Search skips the others: a NaN would rank nowhere (or everywhere)."""
    if dimension is None:
        return np.zeros(len(blobs), bool), np.zeros((0, 0), np.float32)
    size = dimension * 4
    mask = np.fromiter((b is not None and len(b) == size for b in blobs), bool, len(blobs))
    matrix = np.frombuffer(b"".join(b for b, ok in zip(blobs, mask, strict=True) if ok and b),
                           dtype="<f4").reshape(-1, dimension).astype(np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        mask[np.flatnonzero(mask)[~finite]] = False
        matrix = matrix[finite]
    return mask, matrix


# ---- the extension --------------------------------------------------------------------------


def _version(text_: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text_)[:3])


def _installed(session: Session) -> Extension | None:
    row = session.execute(text(
        "SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n "
        "ON n.oid = e.extnamespace WHERE e.extname = 'vector'")).first()
    return Extension(row[0], row[1]) if row is not None else None


def extension(library: Library) -> Extension:
    """pgvector in the library's database, installed there if the server has it and the user may
    (``CREATE EXTENSION``, tried in a savepoint). Raises :class:`VectorsError` saying why not."""
    if library.server is None or library.engine.dialect.name != "postgresql":
        raise VectorsError("the library is a file, not a database on a PostgreSQL server")
    with library.reader() as session:
        found = _installed(session)
        # Whether this user may install it: a superuser may; anyone who may create in the
        # database may install a trusted extension (pgvector is not one, unless made so).
        installable = None if found is not None else session.execute(text(
            "SELECT a.trusted AND has_database_privilege(current_database(), 'CREATE') "
            "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
            "FROM pg_available_extension_versions a JOIN pg_available_extensions e "
            "ON e.name = a.name AND e.default_version = a.version WHERE a.name = 'vector'")).first()
    if found is None:
        if installable is None:
            raise VectorsError("the server has no pgvector (the vector extension is not installed "
                               "on it)")
        # Not tried where it would fail: that would take the write lock at each search for nothing.
        reason = _install(library) if installable[0] else "only a superuser may"
        with library.reader() as session:
            found = _installed(session)
        if found is None:
            raise VectorsError("the server has pgvector, but it is not installed in this database and "
                               f"this user may not install it ({reason}); the server's administrator "
                               "can: CREATE EXTENSION vector")
    if _version(found.version) < MIN_VERSION:
        raise VectorsError(f"pgvector {found.version} is older than "
                           f"{'.'.join(map(str, MIN_VERSION))} (no iterative index scans); "
                           "update it: ALTER EXTENSION vector UPDATE")
    return found


def _install(library: Library) -> str:
    """Try ``CREATE EXTENSION vector``; the server's reason where it refuses."""
    with library.session() as session:
        try:
            with session.begin_nested():
                session.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except DBAPIError as exc:
            return " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    return "installed"


# ---- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """What the database holds of the vectors, read in a few catalog lookups."""

    exists: bool
    dimension: int | None  # of the embedding column; None: no such column (extension dropped)
    triggers: bool  # both triggers on faces are there
    index: bool | None  # None: no index; False: one being built, or whose build failed
    model: str | None  # the weights the rows are of; None: no state row
    changes: int = 0  # the faces' change counter
    synced: int = -1  # its value at the last complete sync

    @property
    def sound(self) -> bool:
        return self.exists and self.dimension is not None and self.triggers and self.model is not None

    def in_step(self, model: str) -> bool:
        return self.sound and self.model == model and self.changes == self.synced


def _state(session: Session, ext: Extension) -> _State:
    exists, dimension, triggers, index, has_state = session.execute(text(
        "SELECT to_regclass(:t) IS NOT NULL, "
        "(SELECT a.atttypmod FROM pg_attribute a WHERE a.attrelid = to_regclass(:t) "
        " AND a.attname = 'embedding' AND NOT a.attisdropped AND a.atttypid = to_regtype(:type)), "
        "(SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(:faces) "
        " AND tgname IN (:stale, :changed) AND NOT tgisinternal), "
        "(SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:i)), "
        "to_regclass(:state) IS NOT NULL"),
        {"t": TABLE, "type": ext.name("vector"), "faces": FACES, "stale": TRIGGER, "changed": COUNTER,
         "i": INDEX, "state": STATE}).one()
    row = session.execute(text(f"SELECT model, changes, synced FROM {STATE}")).first() \
        if has_state else None
    return _State(bool(exists), dimension if dimension and dimension > 0 else None, triggers == 2,
                  index, *(row if row is not None else (None,)))


def _data_dimension(session: Session, model: str) -> int | None:
    rows = session.execute(text(
        f"SELECT octet_length(embedding), count(*) FROM {FACES} "
        "WHERE ignored = false AND embedding_model = :model AND embedding IS NOT NULL GROUP BY 1"),
        {"model": model}).all()
    return common_dimension({int(size): int(count) for size, count in rows})


def _create(session: Session, ext: Extension, dimension: int, model: str) -> None:
    """(Re)create the tables and the triggers that keep them honest, in ``session``'s
    transaction. The trigger functions run with the rights of their owner (who owns the tables),
    so that another user who may write faces need not be allowed to write these; and with
    guards that keep faces writable should someone drop the tables by hand."""
    schema = session.execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    definer = f"SECURITY DEFINER SET search_path = {schema}, pg_temp"
    session.execute(text(f"DROP TABLE IF EXISTS {TABLE}, {STATE}"))
    session.execute(text(
        f"CREATE TABLE {TABLE} (face_id integer PRIMARY KEY REFERENCES {FACES}(id) ON DELETE CASCADE, "
        f"model varchar(64) NOT NULL, embedding {ext.name('vector')}({dimension}))"))
    # In the row, not out of line (pgvector's default for 2 KB vectors): an exact scan then reads
    # them where the rows are, 6 times faster (0.1 s against 0.6 s over 100,000 faces).
    session.execute(text(f"ALTER TABLE {TABLE} ALTER COLUMN embedding SET STORAGE MAIN"))
    # The faces whose embedding is unusable, counted without reading the others.
    session.execute(text(f"CREATE INDEX {TABLE}_unusable ON {TABLE} (face_id) WHERE embedding IS NULL"))
    session.execute(text(f"CREATE TABLE {STATE} (model varchar(64) NOT NULL, changes bigint NOT NULL, "
                         "synced bigint NOT NULL)"))
    session.execute(text(f"INSERT INTO {STATE} VALUES (:model, 0, -1)"), {"model": model})
    # A face re-embedded in place keeps its id: its row goes, the next sync copies it again.
    session.execute(text(
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql {definer} AS $$ BEGIN "
        f"IF to_regclass('{TABLE}') IS NOT NULL THEN DELETE FROM {TABLE} WHERE face_id = OLD.id; "
        "END IF; RETURN NULL; END $$"))
    session.execute(text(
        f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER UPDATE OF embedding, embedding_model ON {FACES} "
        "FOR EACH ROW WHEN (OLD.embedding IS DISTINCT FROM NEW.embedding "
        "OR OLD.embedding_model IS DISTINCT FROM NEW.embedding_model) "
        f"EXECUTE FUNCTION {TRIGGER}()"))
    # Any statement that may make a face searchable counts (transactionally: a snapshot sees the
    # count of the faces it sees), so a search can tell in one read that nothing changed.
    session.execute(text(
        f"CREATE OR REPLACE FUNCTION {COUNTER}() RETURNS trigger LANGUAGE plpgsql {definer} AS $$ BEGIN "
        f"IF to_regclass('{STATE}') IS NOT NULL THEN UPDATE {STATE} SET changes = changes + 1; "
        "END IF; RETURN NULL; END $$"))
    session.execute(text(
        f"CREATE OR REPLACE TRIGGER {COUNTER} AFTER INSERT OR UPDATE OF embedding, embedding_model, "
        f"ignored ON {FACES} FOR EACH STATEMENT EXECUTE FUNCTION {COUNTER}()"))


def drop(session: Session | Connection) -> None:
    """Drop the tables and their triggers (a migration that rebuilds ``faces`` calls this first,
    with its connection; the next search recreates them)."""
    session.execute(text(f"DROP TABLE IF EXISTS {TABLE}, {STATE}"))
    for name in (TRIGGER, COUNTER):
        session.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {FACES}"))
        session.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


@dataclass(frozen=True)
class _Plan:
    dimension: int
    build: bool  # the index is to be built after the copy
    changes: int  # the faces' change counter when the sync began


def _prepare(library: Library, ext: Extension, model: str, report: SyncReport) -> _Plan | None:
    """Under the write lock: the tables as they must be for ``model`` (created, recreated for
    another dimension, rows of other weights deleted and the index with them: after a switch of
    weights it is rebuilt over the new ones). None: no comparable face, nothing to copy."""
    with library.session() as session:
        dimension = _data_dimension(session, model)
        state = _state(session, ext)
        if dimension is None:
            if state.sound and state.model != model:
                session.execute(text(f"DELETE FROM {TABLE}"))
                session.execute(text(f"UPDATE {STATE} SET model = :model"), {"model": model})
            return None
        if not state.sound or state.dimension != dimension:
            _create(session, ext, dimension, model)
            report.created = True
            return _Plan(dimension, True, 0)
        build = not state.index
        if state.model != model:
            report.removed = len(session.execute(text(
                f"DELETE FROM {TABLE} WHERE model <> :model RETURNING face_id"), {"model": model}).all())
            session.execute(text(f"UPDATE {STATE} SET model = :model"), {"model": model})
            if state.index is not None:
                session.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
            build = True
        return _Plan(dimension, build, state.changes)


_HEAD = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TAIL = struct.pack(">h", -1)


def _copy_rows(face_ids: np.ndarray, model: bytes, vectors: np.ndarray, unusable: np.ndarray) -> bytes:
    """A binary COPY stream of (face_id, model, embedding) rows: the vectors in pgvector's binary
    form (int16 dimension, int16 0, big-endian float32s), rows for ``unusable`` ids with NULL."""
    dimension = vectors.shape[1] if vectors.ndim == 2 else 0
    common = [("fields", ">i2"), ("id_size", ">i4"), ("id", ">i4"), ("model_size", ">i4"),
              ("model", f"S{len(model)}"), ("vector_size", ">i4")]
    parts = [_HEAD]
    if len(face_ids):
        rows = np.zeros(len(face_ids), np.dtype([*common, ("dimension", ">i2"), ("unused", ">i2"),
                                                 ("vector", ">f4", (dimension,))]))
        rows["vector_size"], rows["dimension"], rows["vector"] = 4 + 4 * dimension, dimension, vectors
        parts.append(_fill_common(rows, face_ids, model).tobytes())
    if len(unusable):
        nulls = np.zeros(len(unusable), np.dtype(common))
        nulls["vector_size"] = -1
        parts.append(_fill_common(nulls, unusable, model).tobytes())
    parts.append(_TAIL)
    return b"".join(parts)


def _fill_common(rows: np.ndarray, face_ids: np.ndarray, model: bytes) -> np.ndarray:
    rows["fields"], rows["id_size"], rows["id"] = 3, 4, face_ids
    rows["model_size"], rows["model"] = len(model), model
    return rows


def _copy_batch(library: Library, model: str, dimension: int, after: int, size: int,
                report: SyncReport) -> int | None:
    """Copy the next ``size`` missing faces with ids above ``after``, in one unit of work; the
    last id copied, or None when none was missing."""
    with library.session() as session:
        rows = session.execute(text(
            f"SELECT f.id, f.embedding FROM {FACES} f WHERE f.ignored = false "
            "AND f.embedding_model = :model AND f.id > :after "
            f"AND NOT EXISTS (SELECT 1 FROM {TABLE} v WHERE v.face_id = f.id) ORDER BY f.id LIMIT :size"),
            {"model": model, "after": after, "size": size}).all()
        if not rows:
            return None
        ids = np.array([r[0] for r in rows], np.int64)
        mask, vectors = usable([None if r[1] is None else bytes(r[1]) for r in rows], dimension)
        stream = _copy_rows(ids[mask], model.encode(), vectors, ids[~mask])
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(
                f"COPY {TABLE} (face_id, model, embedding) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(stream)
        report.added += int(mask.sum())
        report.unusable += int((~mask).sum())
        return int(ids[-1])


def _build_index(library: Library, ext: Extension, rows: int, dimension: int) -> float | None:
    """Build the HNSW index concurrently (outside any transaction: nobody waits for it); the
    seconds it took, or None where another machine is building it. A concurrent build waits
    for the transactions open when it starts; it gives up after :data:`BUILD_WAIT` seconds
    (one open in this very process would never end), leaving an invalid index that the next
    load drops and builds again."""
    import psycopg

    started = time.perf_counter()
    raw = library.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        driver.rollback()
        driver.autocommit = True
        try:
            locked = driver.execute("SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,)).fetchone()
            if not (locked and locked[0]):
                return None
            try:
                driver.execute(f"SET lock_timeout = '{BUILD_WAIT}s'")
                valid = driver.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                                       (INDEX,)).fetchone()
                if valid is not None and valid[0]:
                    return None  # built by another machine meanwhile
                if valid is not None:  # a build that failed (or was killed) left it invalid
                    driver.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
                # The graph is built in memory where it fits: many times faster than on disk.
                memory = min(2048, max(64, rows * (dimension * 4 + 600) * 5 // 4 // 2**20 + 1))
                driver.execute(f"SET maintenance_work_mem = '{memory}MB'")
                driver.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON {TABLE} "
                               f"USING hnsw (embedding {ext.name('vector_ip_ops')}) WITH ({HNSW_OPTIONS})")
            finally:
                if not driver.closed:
                    driver.execute("RESET maintenance_work_mem")
                    driver.execute("RESET lock_timeout")
                    driver.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))
        finally:
            if not driver.closed:
                driver.autocommit = False
    except psycopg.Error as exc:
        raise VectorsError(f"the server could not build the vectors' index ({_one_line(exc)})") from exc
    finally:
        raw.close()
    return time.perf_counter() - started


def sync(library: Library, ext: Extension, model: str, *, index: bool = True) -> SyncReport:
    """Bring ``face_vectors`` in step with the library's comparable faces of ``model`` (the
    library's weights), and build the HNSW index where it is missing if ``index`` (only the
    approximate search reads it: building it over 100,000 faces takes half a minute, and the
    exact search, the default, does not wait for that). When nothing changed since the last
    sync: one read, no write lock.
    Raises :class:`VectorsError` where the server refuses (no right to create the table...), and
    the library's errors (a lock timeout) as they are."""
    started = time.perf_counter()
    report = SyncReport()
    try:
        with library.reader() as session:
            state = _state(session, ext)
            nothing = not state.exists and not session.execute(text(
                f"SELECT EXISTS (SELECT 1 FROM {FACES} WHERE ignored = false "
                "AND embedding_model = :model)"), {"model": model}).scalar_one()
        if nothing:
            return report  # no table and no face to put in it (a new library): no write lock
        build = index and not state.index
        if not state.in_step(model):
            plan = _prepare(library, ext, model, report)
            if plan is None:
                return report  # no comparable face: nothing to search
            size, after = (BATCH_BULK if plan.build else BATCH_INDEXED), 0
            while (last := _copy_batch(library, model, plan.dimension, after, size, report)) is not None:
                after = last
            with library.session() as session:  # changes counted after it began: seen next time
                session.execute(text(f"UPDATE {STATE} SET synced = :changes WHERE synced < :changes"),
                                {"changes": plan.changes})
            build = index and plan.build
        if build:
            with library.reader() as session:
                rows = session.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
                dimension_now = table_dimension(session)
            if rows and dimension_now:
                report.index_seconds = _build_index(library, ext, rows, dimension_now)
    except DBAPIError as exc:
        raise VectorsError(f"the server refused to keep the vectors ({_one_line(exc.orig)})") from exc
    finally:
        report.seconds = time.perf_counter() - started
    return report


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# ---- reading ---------------------------------------------------------------------------------


def table_dimension(session: Session) -> int | None:
    """The dimension of the table's vectors (None: no table)."""
    found = session.execute(text(
        "SELECT a.atttypmod FROM pg_attribute a WHERE a.attrelid = to_regclass(:t) "
        "AND a.attname = 'embedding' AND NOT a.attisdropped"), {"t": TABLE}).scalar()
    return int(found) if found and found > 0 else None


def searchable(session: Session, model: str) -> bool:
    """Whether a search can find any face (a row with a vector, of ``model``, not ignored)."""
    if not session.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        return False
    return bool(session.execute(text(
        f"SELECT EXISTS (SELECT 1 FROM {TABLE} v JOIN {FACES} f ON f.id = v.face_id "
        "WHERE v.model = :model AND f.ignored = false AND v.embedding IS NOT NULL)"),
        {"model": model}).scalar_one())


def searchable_count(session: Session, model: str) -> int:
    """How many faces a search can find (reads every row: for ``len()``, not for searching)."""
    if not session.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        return 0
    return int(session.execute(text(
        f"SELECT count(*) FROM {TABLE} v JOIN {FACES} f ON f.id = v.face_id "
        "WHERE v.model = :model AND f.ignored = false AND v.embedding IS NOT NULL"),
        {"model": model}).scalar_one())


def unusable_count(session: Session, model: str) -> int:
    """Comparable faces of ``model`` skipped for an unusable embedding (a small partial index)."""
    if not session.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        return 0
    return int(session.execute(text(
        f"SELECT count(*) FROM {TABLE} v JOIN {FACES} f ON f.id = v.face_id "
        "WHERE v.embedding IS NULL AND v.model = :model AND f.ignored = false"),
        {"model": model}).scalar_one())


def literal(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector; ``repr`` of each float32 read back by
    ``strtof`` gives the very same float32."""
    return "[" + ",".join(map(repr, np.asarray(vector, np.float32).tolist())) + "]"


def faces_of_photos(session: Session, photos: Sequence[int], model: str) -> list[tuple[int, int, bytes]]:
    """Every comparable face of ``photos`` as (face id, photo id, stored embedding), in face id
    order. Read in the binary protocol: the embeddings come as they are, not as hex text (twice
    as fast for the thousands a wide search re-checks)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor(binary=True) as cursor:
        cursor.execute(f"SELECT id, photo_id, embedding FROM {FACES} WHERE photo_id = ANY(%s) "
                       "AND ignored = false AND embedding_model = %s ORDER BY id",
                       ([int(p) for p in photos], model))
        return [(int(face), int(photo), bytes(blob)) for face, photo, blob in cursor.fetchall()]


def _settings(session: Session, values: dict[str, object]) -> None:
    names = list(values)
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    session.execute(text(f"SELECT {calls}"), {**{f"n{i}": n for i, n in enumerate(names)},
                                              **{f"v{i}": str(values[n]) for i, n in enumerate(names)}})


@dataclass(frozen=True)
class Nearest:
    """Faces read nearest first: the searchable ones as (face id, photo id, distance); how many
    rows were read (ignored faces included) and the distance of the last one."""

    faces: list[tuple[int, int, float]]
    read: int
    last: float | None


def nearest(session: Session, ext: Extension, query: np.ndarray, model: str, limit: int, *,
            exact: bool, within: float | None = None, ef_search: int = 100) -> Nearest:
    """The ``limit`` vectors of ``model`` nearest ``query`` (only those at most ``within`` away,
    when given); distance = ``2 - 2 * dot`` as pgvector computes it in float32 (it differs from
    numpy's in the last bits). ``exact``: a full scan, ordered exactly; else the HNSW index,
    which may miss some faces (approximate), read in strict distance order past ``ef_search``
    candidates (``hnsw.iterative_scan``). Ignored faces are read (they take their place in the
    order) but not returned. Within ``session``'s transaction (its settings are LOCAL to it)."""
    distance = f"(v.embedding {ext.inner_product} CAST(:query AS {ext.name('vector')}))"
    if exact:
        # "+ 0": an expression the index cannot order by, so the planner scans, exactly;
        # "OFFSET 0" keeps the distance computed once a row, for the filter and the order.
        near = (f"SELECT face_id, score FROM (SELECT v.face_id, {distance} AS score FROM {TABLE} v "
                "WHERE v.model = :model AND v.embedding IS NOT NULL OFFSET 0) s"
                + (" WHERE score <= :score" if within is not None else "")
                + " ORDER BY score + 0 LIMIT :limit")
    else:
        # (enable_seqscan: the planner's costs favour a scan and a sort for larger limits; the
        # index it must be.) One round trip; each setting LOCAL to the transaction.
        _settings(session, {"hnsw.ef_search": max(1, min(1000, int(ef_search))),
                            "hnsw.iterative_scan": "strict_order",
                            "hnsw.max_scan_tuples": max(20_000, 20 * int(limit)),
                            "enable_seqscan": "off"})
        near = (f"SELECT v.face_id, {distance} AS score FROM {TABLE} v WHERE v.model = :model "
                f"ORDER BY {distance} LIMIT :limit")
    # The index orders one table only: read it first (MATERIALIZED), then join the faces.
    rows = session.execute(text(
        f"WITH near AS MATERIALIZED ({near}) SELECT n.face_id, f.photo_id, n.score, f.ignored "
        f"FROM near n JOIN {FACES} f ON f.id = n.face_id ORDER BY n.score"),
        {"query": literal(query), "model": model, "limit": int(limit),
         "score": (within - 2.0) / 2.0 if within is not None else None}).all()
    if not exact:
        _settings(session, {"enable_seqscan": "on"})
    faces = [(int(face), int(photo), 2.0 + 2.0 * float(score)) for face, photo, score, ignored in rows
             if not ignored]
    return Nearest(faces, len(rows), 2.0 + 2.0 * float(rows[-1][2]) if rows else None)
