"""The questions that finish a library, most useful first.

Grouping is cautious: two people merged into one is the failure users hate most, so it
rather leaves one person in several pieces and faces unsorted. Two kinds of question let
the user finish the job with as few answers as possible:

- **merge**: "are these two people the same person?" Yes is ``merge`` (the smaller or
  unnamed one into the other); no is ``apart``, remembered for good.
- **face**: "is this face X?", for a suggestion (X is the person it is suggested for), for
  an unsorted face (X is the nearest person it was not said not to be; faces below the
  quality gate too: grouping leaves them out, a person can tell) and for a face grouping
  put into X that is further from X's other faces than they are from each other by over
  ``MEMBER_GAP`` (a *member* question: the useful answer is no). Yes is ``confirm`` or
  ``move``; no is ``reject``, which for an unsorted face remembers "not X".

Each question is ranked by what a yes would settle (the faces that would move: the whole
smaller person for a merge, one face for a face question) times how likely the yes is (for
a member question: how likely the no is, from how far beyond its person's own spread it is):

- a face and a person: a logistic curve of their distance (average over the person's faces)
  centred on the verification threshold, where a pair of faces is as likely the same person
  as not (LFW-calibrated), ``SLOPE`` wide: 0.88 at the threshold - 0.2, 0.12 at + 0.2;
- two people: the same curve over how far apart their centres are, ``|mean A - mean B|^2``
  (the average distance between their faces less their own spreads), centred on
  ``CENTRE_GAP`` and narrower the more faces the smaller one has: the centre of 40 faces is
  known far better than a face. On ``../shared/data/many`` fragments of one person are
  0.12 to 0.52 apart, large groups of different people 0.66 to 0.77, although their average
  distances (1.17 to 1.32) are near those of small fragments of one person (up to 1.04):
  ranking by the average distance alone asked about two large different people first.

A question less than ``UNLIKELY`` (10%) likely comes after all the others, whatever it would
settle: two large people that are almost surely different (3%, 47 faces) would otherwise be
asked before a fragment of 2 faces that is 85% likely to belong, and a user who keeps
answering no to such questions stops trusting them. A face further than the threshold +
``ASK_MARGIN`` (0.35) from every person, and two people further apart than the threshold +
``MERGE_ASK_MARGIN`` (0.2), are not asked about. An answered question is never asked
again: a merge or a move leaves nothing to ask, "apart" and "not X" are kept in the library.

A :class:`QuestionBoard` keeps every open question of a library and follows its changes
cheaply: the embeddings are read once, and :meth:`QuestionBoard.refresh` reads only who
holds each face, then recomputes the distances of the people and faces that changed, so
the next question comes in milliseconds after an answer on a library of 50,000 faces
(``benchmarks/question_latency.py``).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from faceorganizer.people.settings import PeopleSettings, load_settings
from faceorganizer.store import Library
from faceorganizer.store.people import apart_pairs, face_table
from faceorganizer.store.schema import Person, Rejection
from faceorganizer.store.states import FaceState

# Built-in distances (squared L2 between unit embeddings of the built-in weights); they are
# read in the library's space like the people settings.
SLOPE = 0.1
ASK_MARGIN = 0.35  # faces
MERGE_ASK_MARGIN = 0.2  # people: further apart, two people are almost never one
UNLIKELY = 0.1  # questions less likely than this come after all the others
MEMBER_MIN_FACES = 3  # a person's grouped faces are asked about from this many faces
MEMBER_GAP = 0.25  # ... when further from its other faces than they are from each other by this
CENTRE_GAP = 0.45
CENTRE_SLOPE = 0.05  # + SLOPE / sqrt(faces of the smaller person)
BLOCK = 1024
NONE = -1
AUTO, SUGGESTED, CONFIRMED = 0, 1, 2  # a face's state, as the board keeps it


@dataclass(frozen=True)
class Question:
    """``kind`` "merge": is ``person`` the same as ``into``? ``kind`` "face": is ``face``
    person ``into``? ``distance`` in the library's space; ``gain``: faces the answer that
    changes something settles; ``likelihood``: how likely the yes is (0 to 1). ``member``: a
    face grouped into ``into`` that is doubtful there (the useful answer is no)."""

    kind: str
    person: int | None
    into: int
    face: int | None
    distance: float
    gain: int
    likelihood: float
    member: bool = False

    @property
    def chance(self) -> float:
        """How likely the answer changes the library: a yes, or a no for a doubtful member."""
        return 1.0 - self.likelihood if self.member else self.likelihood

    @property
    def score(self) -> float:
        return self.gain * self.chance

    @property
    def key(self) -> tuple[str, int, int]:
        """The same for a question however it is put: for skipping it."""
        if self.kind == "merge":
            assert self.person is not None
            return ("merge", min(self.person, self.into), max(self.person, self.into))
        assert self.face is not None
        return ("face", self.face, self.into)

    def as_dict(self) -> dict[str, Any]:
        """The command line's JSON: ``{"kind": "merge", "person", "into", "distance"}`` or
        ``{"kind": "face", "face", "person", "distance"}``."""
        if self.kind == "merge":
            return {"kind": "merge", "person": self.person, "into": self.into,
                    "distance": round(self.distance, 4)}
        return {"kind": "face", "face": self.face, "person": self.into,
                "distance": round(self.distance, 4)}


def likelihood(distance: float, center: float, slope: float) -> float:
    """How likely two sides ``distance`` apart are one person (logistic around ``center``)."""
    z = (distance - center) / slope
    return 1.0 / (1.0 + math.exp(min(50.0, z)))


class QuestionBoard:
    """Every open question of a library. ``refresh()`` after the library changed (an answer,
    an undo); ``reload()`` after new faces came in (a scan, a weights switch)."""

    def __init__(self, library: Library, settings: PeopleSettings | None = None) -> None:
        self.library = library
        self.base_settings = settings or load_settings(library)
        self.reload()

    # --- reading ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the embeddings again (new faces, other weights), then every question."""
        with self.library.reader() as session:
            table = face_table(session)
        settings = self.base_settings.in_space(table.space)
        scale = table.space.distance_scale if table.space is not None else 1.0
        self.center = settings.verify_threshold
        self.slope = SLOPE * scale
        self.scale = scale
        self.limit = settings.verify_threshold + ASK_MARGIN * scale
        self.merge_limit = settings.verify_threshold + MERGE_ASK_MARGIN * scale
        good = (table.size >= settings.gate_min_size) & (table.probability >= settings.gate_min_probability)
        self._ids = table.ids
        self._vectors = np.ascontiguousarray(table.embeddings, dtype=np.float32)
        self._good = good
        n = len(self._ids)
        self._person = np.full(n, -2, dtype=np.int64)  # nothing known: every row changes
        self._ignored = np.ones(n, dtype=bool)
        self._groups: dict[int, tuple[int, ...]] = {}
        self._first_read = True
        self._kept = np.zeros(n, dtype=bool)
        self._unsorted = np.zeros(n, dtype=bool)
        self._suggested = np.zeros(n, dtype=bool)
        self._state = np.full(n, AUTO, dtype=np.int64)
        self._member_distance = np.full(n, np.nan)  # an automatic member's distance to the rest
        self._member_excess = np.full(n, np.nan)  # ... less the person's spread between its faces
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}
        self._mean_cache: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int64),
                                                          np.zeros((0, self._vectors.shape[1])))
        self._sizes: dict[int, int] = {}
        self._names: dict[int, str | None] = {}
        self._hidden: set[int] = set()
        self._near: dict[int, dict[int, tuple[float, float]]] = {}  # (distance, likelihood)
        self._best = np.full(n, NONE, dtype=np.int64)
        self._best_distance = np.full(n, np.inf)
        self._rejected: dict[int, set[int]] = {}  # face row -> people it is not
        self._apart: set[tuple[int, int]] = set()
        self.refresh()

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, tuple[str | None, bool]],
                             set[tuple[int, int]], set[tuple[int, int]]]:
        """Who holds each face now (per face row: person, state code ``AUTO``, ``SUGGESTED`` or
        ``CONFIRMED``, ignored), and the people, rejections and "apart" pairs.

        Most of the time between an answer and the next question would go into reading who
        holds each of 50,000 faces, so only the faces of the people whose faces changed are
        read: a fingerprint of each person's faces (count, sums of their ids, of their
        squares, of the suggested and the ignored ones) comes from the index alone
        (``ix_faces_holder``), in SQL, and the faces of the people whose fingerprint changed
        (or of no person) are read again."""
        suggested_sql = f"state = '{FaceState.SUGGESTED.value}'"
        confirmed_sql = f"state = '{FaceState.CONFIRMED.value}'"
        with self.library.reader() as session:
            connection = session.connection()
            groups = {int(r[0]): tuple(r[1:]) for r in connection.exec_driver_sql(
                f"SELECT coalesce(person_id, {NONE}), count(*), sum(id), sum(id * id), "
                f"sum(CASE WHEN {suggested_sql} THEN id ELSE 0 END), "
                f"sum(CASE WHEN {confirmed_sql} THEN id ELSE 0 END), "
                "sum(CASE WHEN ignored THEN id ELSE 0 END) FROM faces GROUP BY person_id").cursor.fetchall()}
            changed = {g for g in set(groups) | set(self._groups) if groups.get(g) != self._groups.get(g)}
            columns = (f"SELECT id, coalesce(person_id, {NONE}), CASE WHEN {suggested_sql} THEN "
                       f"{SUGGESTED} WHEN {confirmed_sql} THEN {CONFIRMED} ELSE {AUTO} END, "
                       "ignored FROM faces")
            if self._first_read:
                rows = connection.exec_driver_sql(columns).cursor.fetchall()
            elif changed:
                held = sorted(g for g in changed if g != NONE)
                where = [f"person_id IN ({', '.join(str(g) for g in held)})"] if held else []
                if NONE in changed:
                    where.append("person_id IS NULL")
                rows = connection.exec_driver_sql(f"{columns} WHERE {' OR '.join(where)}").cursor.fetchall()
            else:
                rows = []
            people = {p: (name, bool(hidden)) for p, name, hidden in
                      session.execute(select(Person.id, Person.name, Person.hidden))}
            rejected = {(f, p) for f, p in session.execute(select(Rejection.face_id, Rejection.person_id))}
            apart = apart_pairs(session)
        self._groups = groups
        person, state, ignored = self._person.copy(), self._state.copy(), self._ignored.copy()
        if self._first_read:
            person[:], state[:], ignored[:] = NONE, AUTO, True
        elif changed:  # faces of a changed person are where the rows read say, or gone
            stale = np.isin(person, list(changed))
            person[stale], state[stale], ignored[stale] = NONE, AUTO, True
        self._first_read = False
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)
        n = len(self._ids)
        if len(table) and n:
            at = np.searchsorted(self._ids, table[:, 0])
            at[at >= n] = 0
            known = self._ids[at] == table[:, 0]
            at = at[known]
            person[at] = table[known, 1]
            state[at] = table[known, 2]
            ignored[at] = table[known, 3] != 0
        return person, state, ignored, people, rejected, apart

    # --- following the library ------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the questions up to date with the library (cost: what changed)."""
        person, state, ignored, people, rejected, apart = self._read()
        changed = np.flatnonzero((person != self._person) | (state != self._state)
                                 | (ignored != self._ignored))
        suggested = state == SUGGESTED
        kept = (person != NONE) & ~suggested & ~ignored
        unsorted = (person == NONE) & ~ignored  # also faces below the quality gate: a person can tell
        affected = {int(p) for p in np.concatenate([self._person[changed], person[changed]]) if p >= 0}
        shown = {p: v for p, v in people.items() if not v[1]}
        before = {p: (self._names.get(p), p in self._hidden) for p in set(self._names) | self._hidden}
        affected.update(p for p in set(people) | set(before)
                        if people.get(p, (None, True)) != before.get(p, (None, True)))
        affected.update(p for pair in apart ^ self._apart for p in pair)
        self._person, self._kept, self._unsorted, self._suggested = person, kept, unsorted, suggested
        self._state = state
        self._ignored = ignored
        self._names = {p: name for p, (name, _) in people.items()}
        self._hidden = {p for p, (_, hidden) in people.items() if hidden}
        self._apart = apart

        # Faces whose "not X" changed must look again for their nearest person.
        row_of = self._row_of
        new_rejected: dict[int, set[int]] = {}
        for face_id, person_id in rejected:
            row = row_of(face_id)
            if row is not None:
                new_rejected.setdefault(row, set()).add(person_id)
        recheck = {r for r in set(new_rejected) | set(self._rejected)
                   if new_rejected.get(r) != self._rejected.get(r)}
        self._rejected = new_rejected

        ids, means = self._update_people(affected, shown)
        self._update_faces(changed, affected, recheck, ids, means)
        self._update_members(changed, affected)

    def _row_of(self, face_id: int) -> int | None:
        at = int(np.searchsorted(self._ids, face_id))
        return at if at < len(self._ids) and self._ids[at] == face_id else None

    def _members(self, people: Collection[int]) -> Iterator[tuple[int, np.ndarray]]:
        """The rows of the faces each of ``people`` holds for sure (not its suggestions)."""
        if len(people) > 64:  # many (the first read): one sort instead of a scan per person
            rows = np.flatnonzero(self._kept)
            order = rows[np.argsort(self._person[rows], kind="stable")]
            owners = self._person[order]
            cuts = np.concatenate([[0], np.flatnonzero(np.diff(owners)) + 1, [len(order)]])
            for start, stop in itertools.pairwise(cuts):
                if stop > start and int(owners[start]) in people:
                    yield int(owners[start]), order[start:stop]
            return
        for p in people:
            yield p, np.flatnonzero(self._kept & (self._person == p))

    def _update_people(self, affected: set[int], shown: dict[int, tuple[str | None, bool]]
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The sums of the people that changed, and their near pairs; (people, means) of all."""
        for p in affected:
            self._sums.pop(p, None)
            self._counts.pop(p, None)
            for other in self._near.pop(p, {}):
                self._near.get(other, {}).pop(p, None)
        eligible = {p for p in affected if p in shown}
        for p, members in self._members(eligible):
            if len(members):
                self._sums[p] = self._vectors[members].astype(np.float64).sum(axis=0)
                self._counts[p] = len(members)
        self._sizes = {int(p): int(c) for p, c in zip(*np.unique(self._person[self._person >= 0],
                                                                 return_counts=True), strict=True)}
        ids, means = self._means(affected)
        if not len(ids):
            return ids, means
        fresh = [p for p in affected if p in self._counts]
        position = {int(p): i for i, p in enumerate(ids)}
        for start in range(0, len(fresh), BLOCK):
            block = fresh[start:start + BLOCK]
            distance = 2.0 - 2.0 * (means[[position[p] for p in block]] @ means.T)
            rows, cols = np.nonzero(distance < self.merge_limit)
            for r, c in zip(rows, cols, strict=True):
                a, b = block[r], int(ids[c])
                if a != b:
                    pair = (float(distance[r, c]), self._same(a, b))  # both change only with a or b
                    self._near.setdefault(a, {})[b] = pair
                    self._near.setdefault(b, {})[a] = pair
        return ids, means

    def _means(self, affected: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """(person ids, sorted; the mean of each one's faces): the last ones, with the rows of
        the ``affected`` people made again."""
        ids, means = self._mean_cache
        if len(affected) * 2 > len(ids):
            ids = np.array(sorted(self._counts), dtype=np.int64)
            rows = [self._sums[int(p)] / self._counts[int(p)] for p in ids]
            means = np.stack(rows) if rows else np.zeros((0, self._vectors.shape[1]))
        elif affected:
            keep = ~np.isin(ids, list(affected))
            added = sorted(p for p in affected if p in self._counts)
            ids = np.concatenate([ids[keep], np.array(added, dtype=np.int64)])
            means = np.concatenate([means[keep], np.array([self._sums[p] / self._counts[p] for p in added])
                                    .reshape(len(added), -1)])
            order = np.argsort(ids, kind="stable")
            ids, means = ids[order], means[order]
        self._mean_cache = (ids, means)
        return ids, means

    def _update_faces(self, changed: np.ndarray, affected: set[int], recheck: set[int],
                      ids: np.ndarray, means: np.ndarray) -> None:
        """The nearest person of each unsorted face, where it can have changed."""
        unsorted = np.flatnonzero(self._unsorted)
        full = set(int(r) for r in changed if self._unsorted[r]) | {r for r in recheck if self._unsorted[r]}
        gone = np.flatnonzero(~self._unsorted & (self._best != NONE))
        self._best[gone] = NONE
        self._best_distance[gone] = np.inf
        if len(ids) == 0:
            self._best[:] = NONE
            self._best_distance[:] = np.inf
            return
        if affected:
            full.update(int(r) for r in unsorted[np.isin(self._best[unsorted], list(affected))])
        # A person that changed may now be nearer than a face's best.
        columns = [i for i, p in enumerate(ids) if int(p) in affected]
        if columns and len(unsorted):
            distance = 2.0 - 2.0 * (self._vectors[unsorted].astype(np.float64) @ means[columns].T)
            for j, i in enumerate(columns):
                p = int(ids[i])
                closer = np.flatnonzero((distance[:, j] < self._best_distance[unsorted])
                                        & (distance[:, j] < self.limit))
                for r, d in zip(unsorted[closer], distance[closer, j], strict=True):
                    if p not in self._rejected.get(int(r), ()):
                        self._best[r], self._best_distance[r] = p, d
        rows = np.array(sorted(full), dtype=np.int64)
        for start in range(0, len(rows), BLOCK):
            block = rows[start:start + BLOCK]
            distance = 2.0 - 2.0 * (self._vectors[block].astype(np.float64) @ means.T)
            for k, r in enumerate(block):
                for p in self._rejected.get(int(r), ()):
                    at = np.searchsorted(ids, p)
                    if at < len(ids) and ids[at] == p:
                        distance[k, at] = np.inf
            best = np.argmin(distance, axis=1)
            nearest = distance[np.arange(len(block)), best]
            ok = nearest < self.limit
            self._best[block] = np.where(ok, ids[best], NONE)
            self._best_distance[block] = np.where(ok, nearest, np.inf)

    def _update_members(self, changed: np.ndarray, affected: set[int]) -> None:
        """The mean distance of each automatic member of a person (grouping put it there, the
        user did not) to the person's other faces, where it can have changed."""
        member = self._kept & (self._state == AUTO) & self._good
        rows = np.flatnonzero(member & (np.isin(self._person, list(affected)) if affected else False))
        rows = np.union1d(rows, changed[member[changed]]) if len(changed) else rows
        self._member_distance[~member] = np.nan
        self._member_excess[~member] = np.nan
        for p in np.unique(self._person[rows]):
            p = int(p)
            mine = rows[self._person[rows] == p]
            count = self._counts.get(p, 0)
            if count < MEMBER_MIN_FACES:
                self._member_distance[mine] = self._member_excess[mine] = np.nan
                continue
            others = (self._sums[p][None, :] - self._vectors[mine]) / (count - 1)
            distance = 2.0 - 2.0 * np.einsum("ij,ij->i", self._vectors[mine], others)
            mean = self._sums[p] / count
            spread = 2.0 - 2.0 * (count * float(mean @ mean) - 1.0) / (count - 1)  # between its faces
            self._member_distance[mine] = distance
            self._member_excess[mine] = distance - spread

    # --- the questions ----------------------------------------------------------------------------

    def questions(self, limit: int | None = None,
                  skip: Collection[tuple[str, int, int]] = ()) -> list[Question]:
        """The open questions, most useful first (at most ``limit``), leaving out ``skip`` keys."""
        def order(q: Question) -> tuple[bool, float, float, tuple[str, int, int]]:
            return (q.chance < UNLIKELY, -q.score, q.distance, q.key)

        found = (q for q in self._all() if q.key not in skip)
        if limit is not None:
            return heapq.nsmallest(limit, found, key=order)
        return sorted(found, key=order)

    def count(self) -> int:
        return sum(1 for _ in self._all())

    def for_face(self, face_id: int) -> Question | None:
        """The question asked about this face, if any."""
        row = self._row_of(face_id)
        if row is None:
            return None
        rows = np.array([row])
        return next(itertools.chain(self._face_questions(rows), self._member_questions(rows)), None)

    def _all(self) -> Iterator[Question]:
        yield from self._merge_questions()
        yield from self._face_questions(np.flatnonzero(self._suggested | (self._best != NONE)))
        yield from self._member_questions()

    def _member_questions(self, rows: np.ndarray | None = None) -> Iterator[Question]:
        """Faces grouped into a person that are more likely someone else ("is this face X?";
        no takes it out), among ``rows`` (default: all)."""
        doubtful = self._member_excess > MEMBER_GAP * self.scale
        for r in np.flatnonzero(doubtful) if rows is None else rows[doubtful[rows]]:
            p = int(self._person[r])
            if p in self._hidden:
                continue
            yield Question("face", None, p, int(self._ids[r]), float(self._member_distance[r]), 1,
                           likelihood(float(self._member_excess[r]), (MEMBER_GAP + 0.1) * self.scale,
                                      self.slope), member=True)

    def _merge_questions(self) -> Iterator[Question]:
        for a, partners in self._near.items():
            for b, (distance, same) in partners.items():
                if a > b or (a, b) in self._apart:
                    continue
                named_a, named_b = self._names.get(a), self._names.get(b)
                if named_a is not None and named_b is not None and named_a != named_b:
                    continue  # two names: the user already told them apart
                source, target = self._direction(a, b)
                gain = self._sizes.get(source, 0)
                yield Question("merge", source, target, None, distance, gain, same)

    def _same(self, a: int, b: int) -> float:
        """How likely two people are one: from the gap between their centres."""
        gap = self._sums[a] / self._counts[a] - self._sums[b] / self._counts[b]
        fewest = min(self._counts[a], self._counts[b])
        slope = (CENTRE_SLOPE + SLOPE / math.sqrt(fewest)) * self.scale
        return likelihood(float(gap @ gap), CENTRE_GAP * self.scale, slope)

    def _direction(self, a: int, b: int) -> tuple[int, int]:
        """(merged, kept): a named person keeps its place, else the one with more faces."""
        named_a, named_b = self._names.get(a) is not None, self._names.get(b) is not None
        if named_a != named_b:
            return (b, a) if named_a else (a, b)
        size_a, size_b = self._sizes.get(a, 0), self._sizes.get(b, 0)
        if size_a != size_b:
            return (a, b) if size_a < size_b else (b, a)
        return (max(a, b), min(a, b))

    def _face_questions(self, rows: np.ndarray) -> Iterator[Question]:
        for r in rows:
            r = int(r)
            if self._suggested[r]:
                p = int(self._person[r])
                if p not in self._counts or p in self._hidden:
                    continue
                mean = self._sums[p] / self._counts[p]
                distance = float(2.0 - 2.0 * float(self._vectors[r] @ mean))
            elif self._unsorted[r] and self._best[r] != NONE:
                p, distance = int(self._best[r]), float(self._best_distance[r])
            else:
                continue
            yield Question("face", None, p, int(self._ids[r]), distance, 1,
                           likelihood(distance, self.center, self.slope))
