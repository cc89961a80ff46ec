"""The daily detection: load the city's data, run the three detectors, store Signal rows.

The run reads with :mod:`workers.signals.loading`, builds candidates in memory with
:mod:`workers.signals.candidates` (what the benchmark ``bench/signals_eval.py`` runs too),
and upserts them here with their explanations; the settings, and what becomes a signal, are
in :mod:`workers.signals.settings`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Service, Signal, SignalStatus
from workers.signals.candidates import (
    Candidate,
    cooccurrence_candidate,
    scan_candidates,
    temporal_candidates,
)
from workers.signals.explain import (
    AreaLabel,
    ServiceLabel,
    explain_cooccurrence,
    explain_scan,
    explain_temporal,
)
from workers.signals.loading import (
    count_matrix,
    load_city_region,
    load_cooccurrence_inputs,
    load_daily_counts,
    load_locations,
    local_bounds,
)
from workers.signals.scan import build_neighbours
from workers.signals.settings import DetectionSettings


@dataclass
class DetectionSummary:
    """What one detection run did."""

    as_of: date
    created: int = 0
    updated: int = 0
    removed: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    services_scanned: int = 0
    pairs_tested: int = 0
    reports_outside_areas: int = 0
    signal_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "as_of": self.as_of.isoformat(),
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "by_kind": dict(self.by_kind),
            "services_scanned": self.services_scanned,
            "pairs_tested": self.pairs_tested,
            "reports_outside_areas": self.reports_outside_areas,
            "signal_ids": self.signal_ids,
        }


def default_as_of(timezone: str = "Europe/Paris") -> date:
    """Yesterday in the city's time zone: the last complete day when the job runs at dawn."""
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def _service_labels(session: Session) -> dict[str, ServiceLabel]:
    return {
        s.code: ServiceLabel(code=s.code, name_fr=s.name_fr, name_en=s.name_en)
        for s in session.exec(select(Service))
    }


def _explain(
    c: Candidate, services: Mapping[str, ServiceLabel], labels: Mapping[str, AreaLabel]
) -> tuple[str, str]:
    code = c.service_code or ""
    service = services.get(code, ServiceLabel(code=code, name_fr=code, name_en=code))
    areas = [labels.get(a, AreaLabel(code=a)) for a in c.area_codes]
    if c.kind == "scan":
        return explain_scan(
            service=service,
            areas=areas,
            start=c.start,
            end=c.end,
            observed=int(c.observed),
            expected=c.expected,
            recurrence_interval_days=c.recurrence_interval_days,
        )
    if c.kind == "temporal":
        return explain_temporal(
            service=service,
            area=areas[0],
            start=c.start,
            end=c.end,
            observed=c.observed,
            expected=c.expected,
            weekly=bool(c.details.get("weekly")),
            n_series=int(c.details.get("areas_watched", 1)),
            recurrence_interval_days=c.recurrence_interval_days,
        )
    d = c.details
    return explain_cooccurrence(
        service=service,
        incident_fr=d["incident_fr"],
        incident_en=d["incident_en"],
        radius_m=d["radius_m"],
        start=c.start,
        end=c.end,
        observed=int(c.observed),
        expected=c.expected,
        rate_ratio=d["rate_ratio"],
        ci_low=d["ci_low"],
        ci_high=math.inf if d["ci_high"] is None else d["ci_high"],
        p_value=float(c.p_value or 1.0),
        stratum_fr=d["stratum_fr"],
        stratum_en=d["stratum_en"],
    )


def detect_signals(
    *, session: Session, as_of: date | None = None, settings: DetectionSettings | None = None
) -> DetectionSummary:
    """Run the three detectors on the data up to ``as_of`` and upsert the signals.

    Re-running for the same day updates the day's rows (an analyst's status is kept) and
    removes the day's untouched (``new``) signals that are no longer found.

    Parameters
    ----------
    session : Session
        A database session; the function commits.
    as_of : date or None
        Last day of data (yesterday in the city's time zone by default).
    settings : DetectionSettings or None
        Detection settings (defaults when None).

    Returns
    -------
    DetectionSummary
        Counts of signals created, updated and removed, by detector.
    """
    settings = settings or DetectionSettings()
    as_of = as_of or default_as_of(settings.timezone)
    summary = DetectionSummary(as_of=as_of)
    history = settings.window_days
    if settings.farrington:
        history = max(history, settings.farrington_history_days)
    first = as_of - timedelta(days=history - 1)
    counts_by_service = load_daily_counts(
        session, first=first, last=as_of, timezone=settings.timezone
    )
    seen = {a for by in counts_by_service.values() for (a, _d) in by}
    locations = load_locations(session, level=settings.area_level, seen_codes=seen)
    candidates: list[Candidate] = []
    if locations.ids:
        neighbours = build_neighbours(locations.coords)
        # neighbours.ids follows the coordinates' order, which is locations.ids
        scan_first = as_of - timedelta(days=settings.window_days - 1)
        for service_code in sorted(counts_by_service):
            full, outside = count_matrix(
                counts_by_service[service_code], locations.ids, first=first, last=as_of
            )
            summary.reports_outside_areas += outside
            recent = full[:, -settings.window_days :]
            if recent.sum() == 0:
                continue
            summary.services_scanned += 1
            candidates += scan_candidates(
                recent,
                neighbours,
                service_code=service_code,
                study_start=scan_first,
                settings=settings,
            )
            # the temporal series start with the service's first report, not years of zeros
            active_days = np.flatnonzero(full.sum(axis=0))
            start_col = int(active_days[0]) if active_days.size else 0
            candidates += temporal_candidates(
                full[:, start_col:],
                locations.ids,
                service_code=service_code,
                study_start=first + timedelta(days=start_col),
                settings=settings,
            )
    if settings.cooccurrence and settings.pairs:
        region = load_city_region(session, settings.area_level)
        if region is not None:
            tz = ZoneInfo(settings.timezone)
            lo, hi = local_bounds(as_of - timedelta(days=settings.cooccurrence_days - 1), as_of, tz)
            for pair in settings.pairs:
                reports, rep_areas, incidents, inc_areas = load_cooccurrence_inputs(
                    session, pair, lo, hi
                )
                if not reports or not incidents:
                    continue
                summary.pairs_tested += 1
                found = cooccurrence_candidate(
                    pair,
                    reports,
                    incidents,
                    inc_areas,
                    report_areas=rep_areas,
                    region=region,
                    start=lo,
                    end=hi,
                    settings=settings,
                )
                if found is not None:
                    candidates.append(found)
    store_candidates(
        session=session, candidates=candidates, as_of=as_of, labels=locations.labels,
        summary=summary,
    )  # fmt: skip
    return summary


# A signal of an earlier day (at most this many days before) that the day's signal carries on.
CONTINUATION_DAYS = 14


def _continued(earlier: Sequence[Signal], c: Candidate) -> Signal | None:
    """The latest earlier signal of the same kind and category, sharing an area, whose time span
    overlaps or touches the candidate's: the same cluster, still going (or found again)."""
    areas = set(c.area_codes)
    for s in earlier:  # newest first
        if (s.kind, s.service_code, s.incident_kind) != (c.kind, c.service_code, c.incident_kind):
            continue
        if areas & set(s.area_codes) and c.start <= s.end + timedelta(days=1) and s.start <= c.end:
            return s
    return None


def store_candidates(
    *,
    session: Session,
    candidates: Sequence[Candidate],
    as_of: date,
    labels: Mapping[str, AreaLabel],
    summary: DetectionSummary,
) -> None:
    """Upsert the day's signals on (as_of, key) and drop the day's stale untouched ones.

    A cluster that goes on is found again day after day. Each day keeps its own row (its
    figures are that day's), linked to the signal it continues (``details.continues``), and
    a new row takes over the analyst's verdict on that one: a cluster dismissed or confirmed
    yesterday does not come back as "new" today.
    """
    services = _service_labels(session)
    existing = {s.key: s for s in session.exec(select(Signal).where(Signal.as_of == as_of))}
    earlier = session.exec(
        select(Signal)
        .where(Signal.as_of < as_of, Signal.as_of >= as_of - timedelta(days=CONTINUATION_DAYS))
        .order_by(col(Signal.as_of).desc(), col(Signal.statistic).desc())
    ).all()
    now = utcnow()
    keys: set[str] = set()
    rows: list[Signal] = []
    for c in candidates:
        if c.key in keys:
            continue  # two clusters sharing a centre and start day: keep the stronger, first
        keys.add(c.key)
        fr, en = _explain(c, services, labels)
        previous = _continued(earlier, c)
        details = _json_safe(c.details)
        if previous is not None:
            details["continues"] = previous.id
            fr += f" Suite du signal n° {previous.id} du {previous.as_of.isoformat()}."
            en += f" Continues signal #{previous.id} of {previous.as_of.isoformat()}."
        values: dict[str, Any] = {
            "kind": c.kind,
            "method": c.method,
            "service_code": c.service_code,
            "incident_kind": c.incident_kind,
            "area_codes": list(c.area_codes),
            "start": c.start,
            "end": c.end,
            "observed": c.observed,
            "expected": c.expected,
            "statistic": c.statistic,
            "p_value": c.p_value,
            "recurrence_interval_days": c.recurrence_interval_days,
            "explanation_fr": fr,
            "explanation_en": en,
            "details": details,
            "detected_at": now,
        }
        row = existing.get(c.key)
        if row is None:
            row = Signal(key=c.key, as_of=as_of, **values)
            if previous is not None:
                row.status = previous.status
            session.add(row)
            summary.created += 1
        else:
            for name, value in values.items():
                setattr(row, name, value)
            summary.updated += 1
        summary.by_kind[c.kind] += 1
        rows.append(row)
    for key, row in existing.items():
        if key not in keys and row.status == SignalStatus.NEW:
            session.delete(row)
            summary.removed += 1
    session.commit()
    summary.signal_ids = [int(r.id) for r in rows if r.id is not None]


def _json_safe(value: Any) -> Any:
    """Plain JSON: numpy numbers to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
