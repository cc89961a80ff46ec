"""Settings of the daily detection: the detectors' parameters and the co-occurrence pairs.

What becomes a signal. Every detector answers "how often would something at least this
strong appear by chance?" as a **recurrence interval** in days, and a signal is recorded when
it is at least ``recurrence_threshold_days`` (365 by default: about one false signal a year
per service and detector on data where nothing happens):

* scan: SaTScan's recurrence interval of a prospective daily analysis, ``1 / p``;
* temporal: an EARS alarm (C1, C2, C3) or a Noufaily alarm is confirmed by an exact p-value
  (the day's count against the 7 days before it, conditional on their sum: binomial with
  probability 1/8; Noufaily's own negative binomial tail for weeks), and the recurrence
  interval covers every area watched for the service, ``1 / (p × areas)`` (Bonferroni);
* co-occurrence: re-testing a year of data every day is not a new experiment each day, so it
  has no recurrence interval; a pair is signalled when its one-sided exact p-value is at most
  ``cooccurrence_alpha`` with at least ``cooccurrence_min_exposed`` exposed incidents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from workers.signals.ears import EarsMethod


@dataclass(frozen=True)
class CooccurrencePair:
    """A configured pair of report service × incident kinds to test as an explanatory factor.

    ``incident_kinds`` match an incident's kind exactly or as a prefix before ``:``
    (``accident`` matches ``accident:velo``); ``attribute_in`` keeps incidents whose
    attribute takes one of the listed values (e.g. BAAC ``int`` for intersections).
    """

    name: str
    service_code: str
    incident_kinds: tuple[str, ...]
    radius_m: float
    incident_fr: str
    incident_en: str
    keep_strata: tuple[str, ...] | None = None
    stratum_fr: str = ""
    stratum_en: str = ""
    night_from_incident: bool = False
    attribute_in: Mapping[str, tuple[str, ...]] | None = None


DEFAULT_PAIRS: tuple[CooccurrencePair, ...] = (
    CooccurrencePair(
        name="streetlight_night_accidents",
        service_code="streetlight",
        incident_kinds=("accident", "road_accident", "baac"),
        radius_m=50.0,
        incident_fr="accidents de la route",
        incident_en="road accidents",
        keep_strata=("night",),
        stratum_fr="de nuit",
        stratum_en="at night",
        night_from_incident=True,
    ),
    CooccurrencePair(
        name="traffic_signal_intersection_accidents",
        service_code="traffic_signal",
        incident_kinds=("accident", "road_accident", "baac"),
        radius_m=30.0,
        incident_fr="accidents de la route en intersection",
        incident_en="road accidents at intersections",
        # BAAC ``int``: 1 is "outside an intersection", 2-9 are kinds of intersection
        attribute_in={"int": ("2", "3", "4", "5", "6", "7", "8", "9")},
    ),
    CooccurrencePair(
        name="public_order_police_logbook",
        service_code="public_order",
        incident_kinds=("main_courante", "police"),
        radius_m=100.0,
        incident_fr="mentions de main courante",
        incident_en="police logbook entries",
    ),
)


@dataclass(frozen=True)
class DetectionSettings:
    """Settings of the daily detection (documented in docs/signals.md).

    The maximum temporal window is 30 days, as New York City's daily syndromic surveillance
    uses: with 50 % of a 365-day study every replicate tries 182 window lengths per circle
    (about 75 s instead of 10-15 s for Marseille's 13 services), and a weak signal that
    takes half a year to build is no longer weak.
    """

    window_days: int = 365
    max_temporal_days: int = 30
    max_spatial_pct: float = 50.0
    max_radius_km: float | None = 3.0
    min_cases: int = 3
    replications: int = 999
    seed: int = 20050301
    recurrence_threshold_days: float = 365.0
    early_stop: bool = True
    ears_methods: tuple[EarsMethod, ...] = ("C1", "C2", "C3")
    farrington: bool = True
    farrington_history_days: int = 5 * 365 + 35
    cooccurrence: bool = True
    cooccurrence_days: int = 365
    cooccurrence_alpha: float = 0.001
    cooccurrence_min_exposed: int = 3
    pairs: tuple[CooccurrencePair, ...] = DEFAULT_PAIRS
    timezone: str = "Europe/Paris"
    area_level: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DetectionSettings:
        """The defaults, with any overrides of an app's ``SIGNALS_DETECTION`` config key."""
        return cls().with_overrides(config.get("SIGNALS_DETECTION") or {})

    def with_overrides(self, overrides: Mapping[str, Any]) -> DetectionSettings:
        """A copy with some settings replaced (unknown names are an error)."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown detection settings: {sorted(unknown)}")
        return replace(self, **dict(overrides))
