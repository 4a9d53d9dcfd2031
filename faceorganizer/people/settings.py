"""How faces become people: thresholds and limits, kept per library.

Distances are FaceNet's squared L2 distances between unit embeddings (0 to 4).
The defaults were calibrated on data (``benchmarks/calibrate_people.py``, numbers
in the README): LFW's 10-fold verification threshold is 1.13; clustering uses a
stricter 0.75 plus an isolation rule: BCubed precision 0.977 to 0.998 on
LFW-built libraries of 20 to 100 people with strangers, and the album's 62
portraits in exactly its 13 people (0.75 is the strictest threshold that does it).
A library on fine-tuned weights reads them multiplied by the weights' distance scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from faceorganizer.errors import FaceorganizerError
from faceorganizer.people.clustering import ClusterParams
from faceorganizer.store import Library
from faceorganizer.store.people import distance_scale, get_setting, put_setting


class PeopleSettingsError(FaceorganizerError):
    """A people setting has a value it cannot take."""


@dataclass(frozen=True)
class PeopleSettings:
    """``cluster_threshold``: the largest mean distance inside a group of faces.
    ``merge_threshold``/``isolation``: two groups this close are one person when each is
    at most ``isolation`` times as far from the other as from anything else.
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
                             isolation=self.isolation)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scaled(self, factor: float) -> PeopleSettings:
        """The distance thresholds multiplied by ``factor`` (the ratios and gates stay)."""
        if factor == 1.0:
            return self
        return replace(self, **{name: round(getattr(self, name) * factor, 6) for name in
                                ("cluster_threshold", "merge_threshold", "match_threshold",
                                 "verify_threshold")})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PeopleSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def with_overrides(self, **changes: Any) -> PeopleSettings:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise PeopleSettingsError(f"unknown people setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


SETTINGS_KEY = "people"


def load_settings(library: Library) -> PeopleSettings:
    """The library's own people settings (the defaults where it has none), in the distances
    of the library's weights: stored thresholds are in the built-in weights' distances and
    are multiplied by the weights' distance scale (``models.weights.distance_scale``)."""
    with library.reader() as session:
        stored = get_setting(session, SETTINGS_KEY, {}) or {}
        scale = distance_scale(session)
    try:
        settings = PeopleSettings.from_dict(stored)
    except (TypeError, PeopleSettingsError):
        settings = PeopleSettings()  # an unusable stored value must not lock the library
    return settings.scaled(scale)


def save_settings(library: Library, settings: PeopleSettings) -> None:
    """Store settings given in the library's current distances (see ``load_settings``)."""
    with library.session() as session:
        put_setting(session, SETTINGS_KEY, settings.scaled(1.0 / distance_scale(session)).as_dict())
