"""The states a photo, a face and a person can be in, as enums (stored or shown as their
lower-case values)."""

from __future__ import annotations

from enum import Enum


class _Value(str, Enum):
    """An enum whose members are their values as plain strings (JSON, f-strings, SQL)."""

    def __str__(self) -> str:
        return str(self.value)


class PhotoStatus(_Value):
    OK = "ok"
    FAILED = "failed"  # could not be read; the reason is kept
    MISSING = "missing"  # not found at its path any more; its faces are kept


class FaceState(_Value):
    """How a face came to belong to its person."""

    AUTO = "auto"  # clustering put it there; the next re-clustering may move it
    SUGGESTED = "suggested"  # close to a person the user knows; waits for a yes or no
    CONFIRMED = "confirmed"  # the user said so; nothing automatic moves it


class FaceOrigin(_Value):
    """Where a face's box came from."""

    DETECTED = "detected"  # the face detector found it; a re-detection may replace or drop it
    FILE = "file"  # a face region written into the photo's XMP by another app (or by us)
    DRAWN = "drawn"  # the user drew it; only the user removes it


class PersonState(_Value):
    """How the user knows a person, as the People view filters them (a person is one of these)."""

    NAMED = "named"
    UNNAMED = "unnamed"
    HIDDEN = "hidden"  # named or not, hidden from the People list

    @classmethod
    def of(cls, name: str | None, hidden: bool) -> PersonState:
        if hidden:
            return cls.HIDDEN
        return cls.UNNAMED if name is None else cls.NAMED
