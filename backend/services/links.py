"""Links between reports and official incidents, as staff read them: rules, summaries, boosts.

The linking itself (matching reports and incidents in space and time, storing the links) runs
in the workers (``workers/linking.py``). What the web needs to *show* links and to rank the
triage queue lives here, so that the web process never imports ``workers``:

- the rules (``linking_rules.toml`` beside this module; a city overrides it with
  ``LANTERNE_LINKING_RULES``), which give each link its label and its weight;
- :func:`link_summary` / :func:`link_summaries`: a report's incidents, for staff;
- :func:`priority_boost` / :func:`priority_boosts`: how much the links add to triage priority.
"""

from __future__ import annotations

import fnmatch
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session, col, select

from backend.models import Incident, Report, ReportIncidentLink

__all__ = [
    "CHUNK",
    "DEFAULT_RULES_PATH",
    "RULES_ENV",
    "SEVERITY_FACTOR",
    "LinkRule",
    "LinkRules",
    "LinkingRulesError",
    "link_summaries",
    "link_summary",
    "load_rules",
    "parse_rules",
    "priority_boost",
    "priority_boosts",
]

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "linking_rules.toml"
RULES_ENV = "LANTERNE_LINKING_RULES"
# How much one link counts in triage, by the worst injury of an accident (BAAC ``severity``).
SEVERITY_FACTOR = {"killed": 3.0, "hospitalised": 2.0, "light_injury": 1.0, "unhurt": 0.5}
# Ids per IN (...) query: below SQLite's historical limit of 999 bound parameters.
CHUNK = 900
# The incident attributes shown to staff beside a link, when the source has them.
DETAIL_KEYS = ("severity", "lum_label", "int_label", "atm_label", "vehicle_categories", "night")


class LinkingRulesError(ValueError):
    """A linking rules file that cannot be used; the message says which rule and why."""


class IncidentLike(Protocol):
    """What a rule needs of an incident to accept it (``workers.linking.IncidentPoint``)."""

    @property
    def kind(self) -> str: ...

    @property
    def night(self) -> bool | None: ...

    @property
    def attributes(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LinkRule:
    """One pair of kinds, with its distance and time window."""

    name: str
    service: str
    kind: str
    max_distance_m: float
    min_lag_hours: float = 0.0
    max_lag_hours: float = 72.0
    while_open: bool = False
    night: bool = False
    where: tuple[tuple[str, frozenset[Any]], ...] = ()
    weight: float = 1.0
    label_fr: str = ""
    label_en: str = ""

    KEYS = frozenset(
        {
            "name",
            "service",
            "kind",
            "max_distance_m",
            "min_lag_hours",
            "max_lag_hours",
            "while_open",
            "night",
            "where",
            "weight",
            "label_fr",
            "label_en",
        }
    )

    def kind_matches(self, kind: str) -> bool:
        """Whether an incident kind is this rule's (``kind`` may be a glob)."""
        return fnmatch.fnmatchcase(kind, self.kind)

    def accepts(self, incident: IncidentLike) -> bool:
        """Whether an incident passes the rule's kind, night and attribute conditions."""
        if not self.kind_matches(incident.kind):
            return False
        if self.night and not incident.night:
            return False
        return all(incident.attributes.get(key) in values for key, values in self.where)

    def window(
        self, created_at: datetime, open_until: datetime | None, now: datetime
    ) -> tuple[datetime, datetime]:
        """The time span in which an incident links to a report made at ``created_at``."""
        if self.while_open:
            return created_at, open_until or now
        return (
            created_at + timedelta(hours=self.min_lag_hours),
            created_at + timedelta(hours=self.max_lag_hours),
        )

    def label(self, lang: str) -> str:
        """The rule's label in ``lang`` (French unless English is asked), else its name."""
        return (self.label_en if lang == "en" else self.label_fr) or self.name


@dataclass(frozen=True)
class LinkRules:
    """The configured rules."""

    rules: tuple[LinkRule, ...]
    max_priority_boost: float = 5.0
    by_name: dict[str, LinkRule] = field(default_factory=dict, compare=False)

    def for_service(self, code: str | None) -> list[LinkRule]:
        """The rules of a report service code."""
        return [r for r in self.rules if r.service == code]

    def for_kind(self, kind: str) -> list[LinkRule]:
        """The rules that may link an incident kind."""
        return [r for r in self.rules if r.kind_matches(kind)]


def parse_rules(data: dict[str, Any], where: str = "rules") -> LinkRules:
    """Rules from the parsed TOML; LinkingRulesError with the rule's name when one is wrong."""
    settings = data.get("settings") or {}
    raw_rules = data.get("rule") or []
    if not isinstance(raw_rules, list):
        raise LinkingRulesError(f"{where}: [[rule]] must be an array of tables")
    rules: list[LinkRule] = []
    for index, raw in enumerate(raw_rules, start=1):
        name = str(raw.get("name") or f"rule {index}")
        unknown = set(raw) - LinkRule.KEYS
        if unknown:
            raise LinkingRulesError(f"{where}: rule {name!r}: unknown keys {sorted(unknown)}")
        for required in ("service", "kind", "max_distance_m"):
            if required not in raw:
                raise LinkingRulesError(f"{where}: rule {name!r} needs {required}")
        where_raw = raw.get("where") or {}
        conditions = tuple(
            (str(k), frozenset(v if isinstance(v, list) else [v])) for k, v in where_raw.items()
        )
        try:
            rule = LinkRule(
                name=name,
                service=str(raw["service"]),
                kind=str(raw["kind"]),
                max_distance_m=float(raw["max_distance_m"]),
                min_lag_hours=float(raw.get("min_lag_hours", 0.0)),
                max_lag_hours=float(raw.get("max_lag_hours", 72.0)),
                while_open=bool(raw.get("while_open", False)),
                night=bool(raw.get("night", False)),
                where=conditions,
                weight=float(raw.get("weight", 1.0)),
                label_fr=str(raw.get("label_fr", "")),
                label_en=str(raw.get("label_en", "")),
            )
        except (TypeError, ValueError) as exc:
            raise LinkingRulesError(f"{where}: rule {name!r}: {exc}") from exc
        if rule.max_distance_m <= 0 or rule.min_lag_hours > rule.max_lag_hours:
            raise LinkingRulesError(
                f"{where}: rule {name!r}: needs max_distance_m > 0 and "
                "min_lag_hours <= max_lag_hours"
            )
        rules.append(rule)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise LinkingRulesError(f"{where}: two rules share a name")
    return LinkRules(
        rules=tuple(rules),
        max_priority_boost=float(settings.get("max_priority_boost", 5.0)),
        by_name={r.name: r for r in rules},
    )


@lru_cache(maxsize=4)
def _load(path: str, _mtime: float) -> LinkRules:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LinkingRulesError(f"{path}: {exc}") from exc
    return parse_rules(data, path)


def load_rules(path: Path | str | None = None) -> LinkRules:
    """The rules of ``path``, else of ``$LANTERNE_LINKING_RULES``, else the shipped defaults."""
    chosen = Path(path or os.environ.get(RULES_ENV) or DEFAULT_RULES_PATH)
    try:
        mtime = chosen.stat().st_mtime
    except OSError as exc:
        raise LinkingRulesError(f"{chosen}: no such linking rules file") from exc
    return _load(str(chosen), mtime)


# ---------------------------------------------------------------------------------------------
# What staff see, and what triage counts
# ---------------------------------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[start : start + CHUNK] for start in range(0, len(unique), CHUNK)]


def link_summaries(
    session: Session, report_ids: Sequence[int], *, lang: str = "fr"
) -> dict[int, list[dict[str, Any]]]:
    """The linked incidents of several reports at once (an empty list for reports without).

    Each one as :func:`link_summary` gives it; one query per 900 reports, for a queue page.
    """
    rules = load_rules()
    out: dict[int, list[dict[str, Any]]] = {report_id: [] for report_id in report_ids}
    for chunk in _chunks(report_ids):
        stmt = (
            select(ReportIncidentLink, Incident)
            .join(Incident, col(Incident.id) == col(ReportIncidentLink.incident_id))
            .where(col(ReportIncidentLink.report_id).in_(chunk))
            .order_by(
                col(ReportIncidentLink.report_id), col(Incident.occurred_at), col(Incident.id)
            )
        )
        for link, incident in session.exec(stmt):
            rule = rules.by_name.get(link.rule)
            attrs = incident.attributes or {}
            out.setdefault(link.report_id, []).append(
                {
                    "incident_id": incident.id,
                    "source": incident.source,
                    "external_id": incident.external_id,
                    "kind": incident.kind,
                    "occurred_at": incident.occurred_at.isoformat(),
                    "address": incident.address,
                    "area_code": incident.area_code,
                    "count": incident.count,
                    "distance_m": link.distance_m,
                    "lag_hours": link.lag_hours,
                    "rule": link.rule,
                    "rule_label": rule.label(lang) if rule else link.rule,
                    "boost": round(_contribution(rule, attrs, incident.count), 3),
                    "details": {k: attrs[k] for k in DETAIL_KEYS if k in attrs},
                }
            )
    return out


def link_summary(session: Session, report_id: int, *, lang: str = "fr") -> list[dict[str, Any]]:
    """The incidents linked to a report, for staff: what, where, when, and by which rule.

    Oldest incident first. Each item: ``incident_id``, ``source``, ``external_id``, ``kind``,
    ``occurred_at`` (ISO 8601), ``address``, ``area_code``, ``count``, ``distance_m``,
    ``lag_hours`` (incident time minus report time), ``rule``, ``rule_label`` (in ``lang``),
    ``boost`` (what this link adds to the priority, before the cap) and ``details`` (lighting,
    severity, intersection, weather, vehicles, night, when the source has them).
    """
    return link_summaries(session, [report_id], lang=lang)[report_id]


def _contribution(rule: LinkRule | None, incident_attrs: Mapping[str, Any], count: int) -> float:
    weight = rule.weight if rule is not None else 1.0
    severity = SEVERITY_FACTOR.get(str(incident_attrs.get("severity")), 1.0)
    # Aggregated sources (admissions by area and day) count more, but less than linearly.
    return weight * severity * math.sqrt(max(count, 1))


def priority_boosts(session: Session, report_ids: Sequence[int]) -> dict[int, float]:
    """The triage boost of several reports at once (0.0 for reports without links)."""
    rules = load_rules()
    boosts = dict.fromkeys(report_ids, 0.0)
    for chunk in _chunks(report_ids):
        stmt = (
            select(
                ReportIncidentLink.report_id,
                ReportIncidentLink.rule,
                Incident.attributes,
                Incident.count,
            )
            .join(Incident, col(Incident.id) == col(ReportIncidentLink.incident_id))
            .where(col(ReportIncidentLink.report_id).in_(chunk))
        )
        for report_id, rule_name, attrs, count in session.exec(stmt):
            boosts[report_id] += _contribution(rules.by_name.get(rule_name), attrs or {}, count)
    return {k: round(min(v, rules.max_priority_boost), 3) for k, v in boosts.items()}


def priority_boosts_where(
    session: Session, report_ids: Sequence[int], conditions: Sequence[Any]
) -> dict[int, float]:
    """:func:`priority_boosts` for the reports of ``report_ids``, read in ONE query joined to
    ``report`` on ``conditions`` (the WHERE that chose them: a queue of thousands of reports
    would take a query per 900 ids otherwise)."""
    rules = load_rules()
    boosts = dict.fromkeys(report_ids, 0.0)
    stmt = (
        select(
            ReportIncidentLink.report_id,
            ReportIncidentLink.rule,
            Incident.attributes,
            Incident.count,
        )
        .join(Incident, col(Incident.id) == col(ReportIncidentLink.incident_id))
        .join(Report, col(Report.id) == col(ReportIncidentLink.report_id))
        .where(*conditions)
    )
    for report_id, rule_name, attrs, count in session.exec(stmt):
        if report_id in boosts:
            boosts[report_id] += _contribution(rules.by_name.get(rule_name), attrs or {}, count)
    return {k: round(min(v, rules.max_priority_boost), 3) for k, v in boosts.items()}


def priority_boost(session: Session, report_id: int) -> float:
    """How much a report's links to official incidents add to its triage priority.

    Each link adds its rule's weight times the incident's severity (an accident with someone
    killed 3, hospitalised 2, light injuries 1, unhurt 0.5, other incidents 1) times the square
    root of its count; the sum is capped at ``max_priority_boost`` of the rules file (5).
    """
    return priority_boosts(session, [report_id])[report_id]
