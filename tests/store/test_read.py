"""The one read layer: what the command line and the window both show."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from faceorganizer.people import operations as ops
from faceorganizer.people.recluster import recluster
from faceorganizer.people.settings import PeopleSettings
from faceorganizer.store import Library, read
from faceorganizer.store.schema import Photo, Root
from faceorganizer.store.states import FaceState, PersonState, PhotoStatus
from tests.fakes import add_faces, faces_of, identities


def test_people_faces_photos_and_counts(library: Library) -> None:
    d = identities(3, seed=7)
    ann = add_faces(library, faces_of(d[0], 4, seed=1), size=200.0)
    bob = add_faces(library, faces_of(d[1], 3, seed=2))
    loner = add_faces(library, d[2:3])
    recluster(library, PeopleSettings())
    with library.reader() as session:
        pa, pb = (read.face(session, x[0]).person_id for x in (ann, bob))
    ops.rename(library, pa, "Ann")
    ops.set_hidden(library, pb, True)
    ops.set_ignored(library, [bob[0]])
    with library.session() as session:
        root = Root(path="/photos")
        session.add(root)
        session.flush()
        session.add(Photo(root_id=root.id, rel="broken.jpg", size=1, mtime_ns=1, status=PhotoStatus.FAILED,
                          error="not an image"))
        for photo in session.scalars(select(Photo).where(Photo.root_id.is_(None))):  # as a scan keeps them
            photo.root_id, photo.rel = root.id, photo.rel.removeprefix("/photos/")
    with library.reader() as session:
        people = {p.id: p for p in read.people(session)}
        assert (people[pa].name, people[pa].faces, people[pa].state) == ("Ann", 4, PersonState.NAMED)
        assert (people[pb].faces, people[pb].state) == (2, PersonState.HIDDEN)  # one is not a face
        assert people[pa].cover is not None and people[pa].cover.person_id == pa
        assert read.person(session, pa) == people[pa]
        assert read.person(session, 10_000) is None
        listed = read.people_and_faces(session)
        assert [p.id for p in listed] == [pa, pb]  # named first, then by size
        assert [f.id for f in listed[0].faces] == sorted(ann)
        assert all(f.state == FaceState.CONFIRMED for f in listed[0].faces)
        assert [f.id for f in read.unsorted_faces(session)] == loner
        assert read.counts(session) == read.Counts(people=2, named=1, unsorted=1)
        assert len(read.faces(session)) == 7 and read.face_count(session) == 8
        assert read.face(session, bob[0]) is None  # marked as not a face: shown nowhere
        failed = read.photos(session, PhotoStatus.FAILED)
        assert [(p.path, p.error) for p in failed] == [("/photos/broken.jpg", "not an image")]
        assert read.status_counts(session) == {PhotoStatus.OK: 8, PhotoStatus.FAILED: 1}
        (folder,) = read.folders(session)
        assert (folder.path, folder.photos, folder.failed, folder.online) == ("/photos", 9, 1, False)
        assert len(read.photos_in(session, "/photos")) == 9
        assert read.photos_in(session, "/photo") == []  # whole folder names only
        ids = [p.id for p in read.photos(session)]
        assert sorted(read.photos_by_id(session, ids)) == sorted(ids)
        one = read.photo(session, ids[0])
        assert one is not None and one.faces in (0, 1)
        (face,) = read.photo_faces(session, read.face(session, ann[0]).photo_id)
        assert face.name == "Ann"


def test_an_empty_library_reads_as_empty(library: Library) -> None:
    with library.reader() as session:
        assert read.people(session) == [] and read.people_and_faces(session) == []
        assert read.counts(session) == read.Counts(0, 0, 0)
        assert read.photos(session) == [] and read.folders(session) == []
        assert np.isscalar(read.face_count(session))
