"""Scan roots: the folders a user has added to the library, and where each machine finds them.

A photo is kept relative to its root (``photos.rel``), so the same share can be /mnt/photos on
one machine and /Volumes/photos on another: each machine maps a root to its own path
(``root_paths``). On a library file, a root with no mapping for this machine is where it was
added (a file library is used from one machine at a time, and keeps working when the machine
is renamed). On a library on a server, a root with no mapping for this machine is *offline*
there: it is not scanned, and none of its photos is marked missing, until it is mapped
(``faceorganizer roots map``, or the window asks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from faceorganizer.errors import FaceorganizerError
from faceorganizer.store.schema import Face, Photo, Root, RootPath, current_machine


class RootError(FaceorganizerError):
    """A folder that cannot be added or mapped; the message says why and what to do."""


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it (plain string paths, absolute)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def under_prefix(column: InstrumentedAttribute[str], folder: str, sep: str = os.sep) -> ColumnElement[bool]:
    """An index-friendly SQL condition: ``column`` is a path inside ``folder`` (``sep``: the
    separator of those paths; '/' in a root)."""
    prefix = folder.rstrip(sep) + sep
    return (column >= prefix) & (column < prefix[:-1] + chr(ord(sep) + 1))


def relative(path: str, folder: str) -> str:
    """``path`` (inside ``folder``) relative to it, '/'-separated as the library keeps it."""
    rest = path[len(folder.rstrip(os.sep)) + 1:]
    return rest.replace(os.sep, "/") if os.sep != "/" else rest


@dataclass(frozen=True)
class RootPlace:
    """One root as this machine sees it."""

    id: int
    added_path: str  # where it was added, on the machine that added it
    path: str | None  # where it is on this machine; None: not mapped here (a server's library)
    mapped: bool  # this machine has its own mapping
    machines: dict[str, str]  # every machine's mapping


def places(session: Session, *, shared: bool) -> list[RootPlace]:
    """Every root, and where it is on this machine (``shared``: the library is on a server)."""
    machine = current_machine()
    mappings: dict[int, dict[str, str]] = {}
    for root_id, name, path in session.execute(select(RootPath.root_id, RootPath.machine, RootPath.path)):
        mappings.setdefault(root_id, {})[name] = path
    out = []
    for root in session.scalars(select(Root).order_by(Root.id)):
        mine = mappings.get(root.id, {}).get(machine)
        local = mine if mine is not None else (None if shared else root.path)
        out.append(RootPlace(root.id, root.path, local, mine is not None, mappings.get(root.id, {})))
    return out


def ensure_root(session: Session, folder: str, *, shared: bool = False, new_root: bool = False,
                others_running: int = 0) -> tuple[int, str]:
    """(id, where it is on this machine) of the root that holds ``folder`` on this machine; a new
    one if none does (taking over the
    roots inside it). On a server's library with roots not mapped on this machine, a new root is
    refused unless ``new_root``: the folder may be one of them, found at another path here, and
    adding it again would make a second copy of each of its photos. A new folder around known
    ones is refused while ``others_running`` other scans run: they may be writing into those."""
    known = places(session, shared=shared)
    for place in known:
        if place.path is not None and is_within(folder, place.path):
            return place.id, place.path
    unmapped = [p for p in known if p.path is None]
    if unmapped and not new_root:
        listed = "; ".join(f"{p.id}: {p.added_path} (on {', '.join(sorted(p.machines)) or 'another machine'})"
                           for p in unmapped)
        raise RootError(
            f"{folder} is in none of this library's folders as this machine sees them, and some were "
            f"added on other machines and are not mapped here ({listed}). If {folder} is one of them, "
            f"map it first (faceorganizer roots map {unmapped[0].id if len(unmapped) == 1 else 'ROOT_ID'} "
            f"{folder}) so that its photos are not "
            "added twice; to add it as a folder of its own, scan with --new-root.")
    inner = [p for p in known if p.path is not None and p.path != folder and is_within(p.path, folder)]
    if inner and others_running:
        raise RootError(
            f"{folder} holds folders already in the library ({', '.join(p.path or '' for p in inner)}), "
            f"and {others_running} other scan{'s are' if others_running > 1 else ' is'} running on this "
            "library now, maybe in them: scan it once they have finished.")
    root = Root(path=folder)
    session.add(root)
    session.flush()
    machine = current_machine()
    session.add(RootPath(root_id=root.id, machine=machine, path=folder))
    for place in inner:
        assert place.path is not None
        _take_over(session, place, root, relative(place.path, folder))
    session.flush()
    return root.id, folder


def _take_over(session: Session, inner: RootPlace, outer: Root, prefix: str) -> None:
    """Move the photos of a root that lies inside a new one into it. Machines that mapped the
    inner root at a path ending with its place in the outer one get the outer one mapped too."""
    session.execute(update(Photo).where(Photo.root_id == inner.id)
                    .values(root_id=outer.id, rel=prefix + "/" + Photo.rel))
    suffix = "/" + prefix
    for machine, path in inner.machines.items():
        if machine != current_machine() and path.replace(os.sep, "/").endswith(suffix):
            outer_path = path[:-len(suffix)] or os.sep
            if session.get(RootPath, (outer.id, machine)) is None:
                session.add(RootPath(root_id=outer.id, machine=machine, path=outer_path))
    session.execute(delete(RootPath).where(RootPath.root_id == inner.id))
    session.execute(delete(Root).where(Root.id == inner.id))


def map_root(session: Session, root_id: int, path: str, *, shared: bool) -> RootPlace:
    """Say where root ``root_id`` is on this machine (``path``: an absolute folder)."""
    root = session.get(Root, root_id)
    if root is None:
        raise RootError(f"There is no folder {root_id} in this library (faceorganizer roots lists them).")
    for place in places(session, shared=shared):
        if place.id == root_id or place.path is None:
            continue
        if is_within(path, place.path) or is_within(place.path, path):
            raise RootError(f"{path} overlaps folder {place.id} ({place.path} on this machine); a folder "
                            "is mapped to one place that no other folder's place holds.")
    mapping = session.get(RootPath, (root_id, current_machine()))
    if mapping is None:
        session.add(RootPath(root_id=root_id, machine=current_machine(), path=path))
    else:
        mapping.path = path
    session.flush()
    return next(p for p in places(session, shared=shared) if p.id == root_id)


def remove_root(session: Session, root_id: int) -> int:
    """Forget a folder: its photos and their faces go from the library (not from the disk).
    Returns how many photos were forgotten."""
    from faceorganizer.store.records import bump_faces_revision

    root = session.get(Root, root_id)
    if root is None:
        return 0
    photos = list(session.scalars(select(Photo.id).where(Photo.root_id == root_id)))
    for start in range(0, len(photos), 500):
        chunk = photos[start:start + 500]
        session.execute(delete(Face).where(Face.photo_id.in_(chunk)))
        session.execute(delete(Photo).where(Photo.id.in_(chunk)))
    session.execute(delete(RootPath).where(RootPath.root_id == root_id))
    session.delete(root)
    bump_faces_revision(session)
    return len(photos)
