"""Re-clustering a library around the user's decisions, which it never changes.

A person the user has named, hidden, confirmed a face of, taken a face out of
("not this person"), or said is different from another person ("apart") is an *anchor*:
its name, its confirmed faces and every face it holds stay exactly where they are, and so
do the rejections and "apart" pairs that refer to it.
Everything else is recomputed from the embeddings:

1. Each free face (not held by an anchor, or only suggested to one) that passes the
   quality gate is compared with every anchor (mean distance to its faces). One
   within the match threshold, and clearly closer to it than to any other anchor,
   is attached to it as a *suggestion*, unless the user rejected it from that person.
2. The other free faces are clustered (:mod:`faceorganizer.people.clustering`); groups
   of at least ``min_faces`` become unnamed people, the rest stay unsorted.
3. Groups keep the id of the old unnamed person they overlap most, so people do
   not change number from one scan to the next; a face the user rejected from
   that person is left out of it.

The plan is computed from a snapshot and written in one transaction, and only if
no user decision was made in between (else it is planned again).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.clustering import cluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library, read
from faceorganizer.store.people import FaceTable, apart_pairs, face_table, rejections
from faceorganizer.store.records import faces_revision, grouping_is_stale, mark_grouped, revision
from faceorganizer.store.schema import Face, Person
from faceorganizer.store.states import FaceState

NONE = -1


@dataclass(frozen=True)
class ReclusterSummary:
    people: int
    new_people: int
    suggestions: int
    unsorted: int
    clustered: int
    seconds: float
    waiting: int = 0  # other scans still running on the library: the last to finish groups

    def as_dict(self) -> dict[str, int | float]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class _Snapshot:
    faces: FaceTable
    people: dict[int, tuple[str | None, bool]]
    rejected: set[tuple[int, int]]
    apart: set[tuple[int, int]]
    revision: int
    faces_revision: int


@dataclass(frozen=True)
class _Plan:
    person: np.ndarray  # per face: a person id, NONE, or -(2 + g) for new group g
    state: np.ndarray
    free: np.ndarray  # bool: faces whose assignment the plan decides
    new_groups: int
    drop_people: list[int]
    suggestions: int
    clustered: int


def _snapshot(library: Library) -> _Snapshot:
    with library.reader() as session:
        people = {p.id: (p.name, p.hidden) for p in session.scalars(select(Person))}
        return _Snapshot(face_table(session), people, rejections(session), apart_pairs(session),
                         revision(session), faces_revision(session))


def anchors(snapshot: _Snapshot) -> set[int]:
    """People the user has made decisions about: named, hidden, with a confirmed face, with a
    face taken out of them (an automatic group the user corrected is one they know; dropping
    it would also drop the rejection, and the face would rejoin the faces it was taken from),
    or said to be different from someone (dropping it would drop the "apart")."""
    fixed = {pid for pid, (name, hidden) in snapshot.people.items() if name is not None or hidden}
    faces = snapshot.faces
    fixed.update(int(p) for p in np.unique(faces.person[faces.state == FaceState.CONFIRMED]) if p != NONE)
    fixed.update(person for _, person in snapshot.rejected if person in snapshot.people)
    fixed.update(person for pair in snapshot.apart for person in pair if person in snapshot.people)
    return fixed


def person_means(embeddings: np.ndarray, person: np.ndarray,
                 members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(person ids, mean embedding of each) over the faces selected by ``members``."""
    ids, inverse = np.unique(person[members], return_inverse=True)
    sums = np.zeros((len(ids), embeddings.shape[1]))
    np.add.at(sums, inverse, embeddings[members])
    return ids, sums / np.bincount(inverse)[:, None]


def best_matches(queries: np.ndarray, means: np.ndarray, threshold: float, isolation: float,
                 forbidden: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each query vector: the index of the mean it matches (-1 for none) and the distance
    to the nearest. A match is within ``threshold`` and at most ``isolation`` times the
    distance to the next mean. ``forbidden`` (queries x means, bool) rules pairs out."""
    if len(means) == 0 or len(queries) == 0:
        return np.full(len(queries), -1), np.full(len(queries), np.inf)
    distance = 2.0 - 2.0 * (queries.astype(np.float64) @ means.T)
    if forbidden is not None:
        distance[forbidden] = np.inf
    rows = np.arange(len(queries))
    best = np.argmin(distance, axis=1)
    first = distance[rows, best]
    distance[rows, best] = np.inf
    second = distance.min(axis=1) if distance.shape[1] > 1 else np.full(len(queries), np.inf)
    ok = (first < threshold) & (first <= isolation * second)
    return np.where(ok, best, -1), first


def _plan(snapshot: _Snapshot, settings: PeopleSettings) -> _Plan:
    """``settings`` in built-in distances; they are read in the space of the snapshot's faces."""
    faces = snapshot.faces
    settings = settings.in_space(faces.space)
    n = len(faces.ids)
    fixed = anchors(snapshot)
    in_anchor = np.isin(faces.person, list(fixed)) if fixed else np.zeros(n, dtype=bool)
    kept = in_anchor & (faces.state != FaceState.SUGGESTED)
    free = ~kept
    good = (faces.size >= settings.gate_min_size) & (faces.probability >= settings.gate_min_probability)
    person = np.where(free, NONE, faces.person)
    state = np.where(free, FaceState.AUTO, faces.state)

    # 1. Suggestions for the anchors.
    candidates = np.flatnonzero(free & good)
    suggestions = 0
    if kept.any() and len(candidates):
        anchor_ids, means = person_means(faces.embeddings, faces.person, kept)
        forbidden = None
        if snapshot.rejected:
            position = {int(p): j for j, p in enumerate(anchor_ids)}
            face_row = {int(f): i for i, f in enumerate(faces.ids[candidates])}
            forbidden = np.zeros((len(candidates), len(anchor_ids)), dtype=bool)
            for face_id, person_id in snapshot.rejected:
                if face_id in face_row and person_id in position:
                    forbidden[face_row[face_id], position[person_id]] = True
        match, _ = best_matches(faces.embeddings[candidates], means, settings.match_threshold,
                                settings.match_isolation, forbidden)
        matched = match >= 0
        person[candidates[matched]] = anchor_ids[match[matched]]
        state[candidates[matched]] = FaceState.SUGGESTED
        suggestions = int(matched.sum())
        candidates = candidates[~matched]

    # 2. Clustering of the rest.
    labels = cluster(faces.embeddings[candidates], settings.cluster_params)
    sizes = np.bincount(labels) if len(labels) else np.zeros(0, dtype=np.int64)
    groups = [candidates[labels == g] for g in np.flatnonzero(sizes >= settings.min_faces)]

    # 3. Stable ids: each group takes the old unnamed person it overlaps most.
    old_auto = {pid for pid in snapshot.people if pid not in fixed}
    overlaps = sorted(((count, -gi, pid) for gi, members in enumerate(groups)
                       for pid, count in Counter(int(p) for p in faces.person[members]
                                                 if p in old_auto).items()), reverse=True)
    assigned: dict[int, int] = {}
    taken: set[int] = set()
    for _, negative_gi, pid in overlaps:
        gi = -negative_gi
        if gi not in assigned and pid not in taken:
            assigned[gi] = pid
            taken.add(pid)
    new_groups = 0
    for gi, members in enumerate(groups):
        if gi in assigned:
            target = assigned[gi]
            members = np.array([i for i in members
                                if (int(faces.ids[i]), target) not in snapshot.rejected], dtype=np.int64)
            if len(members) < settings.min_faces:
                continue
        else:
            target = -(2 + new_groups)
            new_groups += 1
        person[members] = target
    drop = sorted(old_auto - taken)
    return _Plan(person=person, state=state, free=free, new_groups=new_groups, drop_people=drop,
                 suggestions=suggestions, clustered=len(candidates))


def _apply(session: Session, snapshot: _Snapshot, plan: _Plan) -> int:
    """Write the plan; returns how many people were created."""
    created: dict[int, int] = {}
    for g in range(plan.new_groups):
        person = Person()
        session.add(person)
        session.flush()
        created[-(2 + g)] = person.id
    faces = snapshot.faces
    changes = []
    for i in np.flatnonzero(plan.free):
        target = int(plan.person[i])
        target_id = created.get(target, target if target >= 0 else None)
        old = int(faces.person[i])
        if (target_id if target_id is not None else NONE) != old or plan.state[i] != faces.state[i]:
            changes.append({"face": int(faces.ids[i]), "person": target_id, "state": str(plan.state[i])})
    if changes:
        statement = (update(Face).where(Face.id == bindparam("face"))
                     .values(person_id=bindparam("person"), state=bindparam("state")))
        session.connection().execute(statement, changes)
    if plan.drop_people:
        still_used = set(session.scalars(select(Face.person_id).where(
            Face.person_id.in_(plan.drop_people)).distinct()))
        gone = [p for p in plan.drop_people if p not in still_used]
        if gone:
            session.execute(delete(Person).where(Person.id.in_(gone), Person.name.is_(None),
                                                 Person.hidden.is_(False)))
    return len(created)


class ReclusterError(FaceorganizerError):
    """Re-clustering kept being overtaken by the user's own changes."""


def recluster(library: Library, settings: PeopleSettings, attempts: int = 5, *,
              only_if_stale: bool = False) -> ReclusterSummary:
    """Group the library's faces into people around the user's decisions. ``settings`` are in
    the built-in weights' distances (``load_settings``), read in the space of the faces.

    With ``only_if_stale``, nothing is done unless faces changed since the last grouping.
    """
    started = time.monotonic()
    if only_if_stale:
        with library.reader() as session:
            if not grouping_is_stale(session):
                counts = read.counts(session)
                return ReclusterSummary(people=counts.people, new_people=0, suggestions=0,
                                        unsorted=counts.unsorted, clustered=0, seconds=0.0)
    for _ in range(attempts):
        snapshot = _snapshot(library)
        plan = _plan(snapshot, settings)
        with library.session() as session:
            if revision(session) != snapshot.revision:
                continue  # the user changed something meanwhile: plan again
            new_people = _apply(session, snapshot, plan)
            mark_grouped(session, snapshot.faces_revision)
        with library.reader() as session:
            counts = read.counts(session)
        return ReclusterSummary(people=counts.people, new_people=new_people,
                                suggestions=plan.suggestions, unsorted=counts.unsorted,
                                clustered=plan.clustered, seconds=time.monotonic() - started)
    raise ReclusterError("The people could not be regrouped: the library kept changing. Try again.")
