"""The library: an SQLite database of scan roots, photos, faces and people."""

from faceorganizer.store.database import Library, LibraryError, LibraryTooNewError

__all__ = ["Library", "LibraryError", "LibraryTooNewError"]
