"""How faces become people: thresholds and limits, kept per library.

Distances are FaceNet's squared L2 distances between unit embeddings (0 to 4).
The defaults were calibrated on data (``benchmarks/calibrate_people.py``, numbers
in the README): LFW's 10-fold verification threshold is 1.13; clustering uses a
stricter 0.75 plus an isolation rule: the album's 62 portraits in exactly its 13 people
(0.75 is the strictest threshold that does it). Then a group joins a larger one it clearly
belongs with (``attach_*``, ``benchmarks/grouping_eval.py``): on albums unlike the
calibration data (greyscale, 320 px, heavy JPEG, many strangers, people in 100+ photos)
BCubed F 0.94 to 1.0 at precision 0.98 or more (0.59 to 0.93 without it); on LFW-built
libraries of 20 to 100 people with strangers precision 0.963 to 0.989, F 0.95 to 0.97.
Settings are kept and passed around in the built-in weights' distances; they are read
in an embedding space (``in_space``: multiplied by its distance scale) only where they
meet embeddings of that space, so a threshold never meets embeddings of other weights.
People see and set them in their library's space (``shown_in``, ``with_shown``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.clustering import ClusterParams
from faceorganizer.space import EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.records import get_setting, library_space, put_setting


class PeopleSettingsError(FaceorganizerError):
    """A people setting has a value it cannot take."""


@dataclass(frozen=True)
class PeopleSettings:
    """``cluster_threshold``: the largest mean distance inside a group of faces.
    ``merge_threshold``/``isolation``: two groups this close are one person when each is
    at most ``isolation`` times as far from the other as from anything else.
    ``attach_threshold``/``attach_margin``/``attach_isolation``: a group joins its nearest group
    at least as large (3+ faces) when their mean distance is under ``attach_threshold``, exceeds
    the larger group's own mean distance between its faces by less than ``attach_margin``,
    and is at most ``attach_isolation`` times the distance to the next such group
    (``attach_threshold`` 0 turns this off).
    ``match_threshold``/``match_isolation``: the same rule for attaching a new face to a
    known person as a suggestion, and for naming faces in ``identify``.
    ``verify_threshold``: two faces closer than this are the same person (LFW-calibrated);
    also the default cut-off of a search.
    ``min_faces``: smaller groups stay unsorted instead of becoming people.
    ``gate_min_size``/``gate_min_probability``: faces smaller (pixels) or less certain take no
    part in clustering or suggestions; they can still be searched and sorted by hand.
    """

    cluster_threshold: float = 0.75
    merge_threshold: float = 1.0
    isolation: float = 0.7
    attach_threshold: float = 1.2
    attach_margin: float = 0.35
    attach_isolation: float = 0.9
    match_threshold: float = 1.0
    match_isolation: float = 0.7
    verify_threshold: float = 1.13
    min_faces: int = 2
    gate_min_size: int = 40
    gate_min_probability: float = 0.95

    def __post_init__(self) -> None:
        checks = {
            "cluster_threshold": 0 < self.cluster_threshold < 4,
            "merge_threshold": 0 <= self.merge_threshold < 4,
            "isolation": 0 < self.isolation <= 1,
            "attach_threshold": 0 <= self.attach_threshold < 4,
            "attach_margin": 0 <= self.attach_margin < 4,
            "attach_isolation": 0 < self.attach_isolation <= 1,
            "match_threshold": 0 < self.match_threshold < 4,
            "match_isolation": 0 < self.match_isolation <= 1,
            "verify_threshold": 0 < self.verify_threshold < 4,
            "min_faces": 1 <= self.min_faces <= 1000,
            "gate_min_size": 0 <= self.gate_min_size <= 4000,
            "gate_min_probability": 0 <= self.gate_min_probability <= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise PeopleSettingsError(f"people setting {name}={getattr(self, name)!r} is out of range")

    @property
    def cluster_params(self) -> ClusterParams:
        return ClusterParams(threshold=self.cluster_threshold, merge_threshold=self.merge_threshold,
                             isolation=self.isolation, attach_threshold=self.attach_threshold,
                             attach_margin=self.attach_margin,
                             attach_isolation=self.attach_isolation)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scaled(self, factor: float) -> PeopleSettings:
        """The distance thresholds multiplied by ``factor`` (the ratios and gates stay)."""
        if factor == 1.0:
            return self
        return replace(self, **{name: round(getattr(self, name) * factor, 6) for name in DISTANCES})

    def in_space(self, space: EmbeddingSpace | None) -> PeopleSettings:
        """These settings (built-in distances) as distances between embeddings of ``space``."""
        return self.scaled(space.distance_scale) if space is not None else self

    def with_shown(self, space: EmbeddingSpace | None, **changes: Any) -> PeopleSettings:
        """These settings with ``changes`` given as a person sees them: distances in ``space``."""
        scale = space.distance_scale if space is not None else 1.0
        return self.with_overrides(**{k: (round(v / scale, 6) if k in DISTANCES and v is not None else v)
                                      for k, v in changes.items()})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PeopleSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def with_overrides(self, **changes: Any) -> PeopleSettings:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise PeopleSettingsError(f"unknown people setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


DISTANCES = ("cluster_threshold", "merge_threshold", "attach_threshold", "attach_margin",
             "match_threshold", "verify_threshold")
SETTINGS_KEY = "people"


def load_settings(library: Library) -> PeopleSettings:
    """The library's own people settings (the defaults where it has none), in the built-in
    weights' distances."""
    with library.reader() as session:
        stored = get_setting(session, SETTINGS_KEY, {}) or {}
    try:
        return PeopleSettings.from_dict(stored)
    except (TypeError, PeopleSettingsError):
        return PeopleSettings()  # an unusable stored value must not lock the library


def shown_settings(library: Library) -> PeopleSettings:
    """The library's settings as a person sees them: distances in the library's space."""
    settings = load_settings(library)
    with library.reader() as session:
        return settings.in_space(library_space(session))


def save_settings(library: Library, settings: PeopleSettings) -> None:
    """Keep ``settings`` (built-in distances) as the library's."""
    with library.session() as session:
        put_setting(session, SETTINGS_KEY, settings.as_dict())
