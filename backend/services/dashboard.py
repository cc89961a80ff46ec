"""The services' dashboard: backlog, inflow and outflow per week, time to fix, overdue,
reopen rate and satisfaction, per service (and team, where reports have one).

Every figure is computed per service (and team) for the whole city in a handful of grouped
queries (:func:`compute`), then kept to what the reader may see and summed
(:func:`for_staff`), so that one stored computation serves every scope. Definitions
(docs/staff.md, "Dashboard"):

- backlog: reports in an open status (received, open, in progress, waiting) now;
- overdue: backlog reports past their due date (``report.due_at``, set by the routing from
  the service's target days, as the overdue queue counts them);
- inflow / outflow of a week: reports created / closed that week (ISO weeks, Monday 00:00
  UTC), for the last ``weeks`` weeks, the current one included (partial);
- time to fix: whole hours (rounded down) from ``created_at`` to ``closed_at`` of the
  reports fixed (fixed or closed) and closed within those weeks, shown in days: median and
  90th percentile (linear interpolation between order statistics, as ``percentile_cont``);
- reopen rate: of the reports with a fixed step in the period, the share with a later step
  back to an open status;
- satisfaction: questionnaire answers received in the period: how many, the share saying
  it is really fixed, the mean mark (1-5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from backend.db import utcnow
from backend.models import (
    Feedback,
    Report,
    ReportUpdate,
    Service,
    StaffSnapshot,
    StaffUser,
)
from backend.services.access import service_scope
from backend.services.workflow import FIXED_STATUSES, OPEN_STATUSES

__all__ = [
    "CSV_FIELDS",
    "DEFAULT_WEEKS",
    "WEEK_CHOICES",
    "Figures",
    "compute",
    "csv_rows",
    "for_staff",
    "from_json",
    "refresh",
    "to_json",
    "spreadsheet_safe",
]

DEFAULT_WEEKS = 12
# The periods the dashboard offers, each stored by the scheduled job.
WEEK_CHOICES = (4, 12, 26, 52)
_FIXED = sorted(str(s) for s in FIXED_STATUSES)
_OPEN = sorted(str(s) for s in OPEN_STATUSES)
_COUNTS = (
    "backlog",
    "overdue",
    "fixed",
    "fixed_steps",
    "reopened",
    "answers",
    "answers_fixed",
    "marks",
    "mark_sum",
)


@dataclass(frozen=True)
class Figures:
    """The city-wide figures, per (service, team) group and per week (``compute``)."""

    computed_at: datetime
    week_starts: list[datetime]
    # (service_code, team_code) -> figure name -> value
    groups: dict[tuple[str | None, str | None], dict[str, Any]]
    # (service_code, team_code, week index) -> {"inflow": n, "outflow": n}
    weekly: dict[tuple[str | None, str | None, int], dict[str, int]]
    # (service_code, team_code) -> {whole hours to fix: how many reports}: percentiles of any
    # sum of groups stay exact (a list of the hours, counted, instead of every report's time)
    fix_hours: dict[tuple[str | None, str | None], dict[int, int]]


def _team_column() -> Any:
    return col(Report.team_code)


def _week_starts(now: datetime, weeks: int) -> list[datetime]:
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _bucket(column: Any, starts: list[datetime]) -> Any:
    """The index of the week holding ``column`` (a CASE over bound week starts: portable)."""
    return sa.case(
        *[(column >= start, index) for index, start in reversed(list(enumerate(starts)))],
        else_=None,
    )


def _percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile of a counted multiset of values, with linear interpolation between
    the two nearest order statistics (PostgreSQL's ``percentile_cont``)."""
    n = sum(counts.values())
    if n == 0:
        return None
    position = q * (n - 1)
    low_rank, fraction = int(position), position - int(position)
    low = high = None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if low is None and seen > low_rank:
            low = value
        if seen > low_rank + 1 or (seen > low_rank and fraction == 0):
            high = value
            break
    assert low is not None
    if high is None:
        high = low
    return low + fraction * (high - low)


def _hours(session: Session) -> Any:
    """Whole hours from ``created_at`` to ``closed_at`` (rounded down), in SQL."""
    if session.get_bind().dialect.name == "sqlite":
        # Whole seconds (exact integers, not julianday's floats), divided as integers.
        seconds = sa.cast(sa.func.strftime("%s", col(Report.closed_at)), sa.Integer) - sa.cast(
            sa.func.strftime("%s", col(Report.created_at)), sa.Integer
        )
        return seconds / 3600
    seconds = sa.extract("epoch", col(Report.closed_at) - col(Report.created_at))
    return sa.cast(sa.func.floor(seconds / 3600), sa.Integer)


def compute(
    *, session: Session, weeks: int = DEFAULT_WEEKS, now: datetime | None = None
) -> Figures:
    """Every figure of every service and team for the last ``weeks`` weeks (see module)."""
    now = now or utcnow()
    starts = _week_starts(now, weeks)
    start = starts[0]
    team = _team_column()
    groups: dict[tuple[str | None, str | None], dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(_COUNTS, 0)
    )

    # Backlog and overdue: one grouped query over the open reports.
    # Overdue: past the due date the routing gave (backend.services.assignment), as the queues
    # count it.
    late = col(Report.due_at) < now
    stmt = (
        sa.select(
            col(Report.service_code),
            team,
            sa.func.count(),
            sa.func.sum(sa.case((late, 1), else_=0)),
        )
        .where(col(Report.status).in_(_OPEN))
        .group_by(col(Report.service_code), team)
    )
    for code, team_code, backlog, overdue in session.execute(stmt):
        groups[(code, team_code)]["backlog"] = int(backlog)
        groups[(code, team_code)]["overdue"] = int(overdue or 0)

    # Inflow and outflow per week.
    weekly: dict[tuple[str | None, str | None, int], dict[str, int]] = defaultdict(
        lambda: {"inflow": 0, "outflow": 0}
    )
    for column, name in ((col(Report.created_at), "inflow"), (col(Report.closed_at), "outflow")):
        bucket = _bucket(column, starts)
        stmt = (
            sa.select(col(Report.service_code), team, bucket, sa.func.count())
            .where(column >= start)
            .group_by(col(Report.service_code), team, bucket)
        )
        for code, team_code, index, count in session.execute(stmt):
            weekly[(code, team_code, int(index))][name] = int(count)
            groups[(code, team_code)]  # noqa: B018 (a group for every service with a figure)

    # Time to fix, in whole hours, of the reports fixed and closed in the period, counted.
    fix_hours: dict[tuple[str | None, str | None], dict[int, int]] = defaultdict(dict)
    hours = _hours(session).label("hours")
    stmt = (
        sa.select(col(Report.service_code), team, hours, sa.func.count())
        .where(col(Report.closed_at) >= start, col(Report.status).in_(_FIXED))
        .group_by(col(Report.service_code), team, hours)
    )
    for code, team_code, value, count in session.execute(stmt):
        fix_hours[(code, team_code)][int(value)] = int(count)
    for key, counted in fix_hours.items():
        groups[key]["fixed"] = sum(counted.values())

    # Reopen rate: reports with a fixed step in the period, and those reopened after it.
    first_fixed = (
        sa.select(
            col(ReportUpdate.report_id).label("report_id"),
            sa.func.min(col(ReportUpdate.created_at)).label("fixed_at"),
        )
        .where(col(ReportUpdate.status).in_(_FIXED), col(ReportUpdate.created_at) >= start)
        .group_by(col(ReportUpdate.report_id))
        .subquery()
    )
    later = aliased(ReportUpdate)
    reopened = (
        sa.select(sa.literal(1))
        .where(
            col(later.report_id) == first_fixed.c.report_id,
            col(later.status).in_(_OPEN),
            col(later.created_at) > first_fixed.c.fixed_at,
        )
        .exists()
    )
    stmt = (
        sa.select(
            col(Report.service_code),
            team,
            sa.func.count(),
            sa.func.sum(sa.case((reopened, 1), else_=0)),
        )
        .join(first_fixed, first_fixed.c.report_id == col(Report.id))
        .group_by(col(Report.service_code), team)
    )
    for code, team_code, steps, count in session.execute(stmt):
        groups[(code, team_code)]["fixed_steps"] = int(steps)
        groups[(code, team_code)]["reopened"] = int(count or 0)

    # Satisfaction: the questionnaire's answers of the period.
    stmt = (
        sa.select(
            col(Report.service_code),
            team,
            sa.func.count(),
            sa.func.sum(sa.case((col(Feedback.fixed).is_(True), 1), else_=0)),
            sa.func.count(col(Feedback.satisfaction)),
            sa.func.sum(col(Feedback.satisfaction)),
        )
        .join(Report, col(Report.id) == col(Feedback.report_id))
        .where(col(Feedback.created_at) >= start)
        .group_by(col(Report.service_code), team)
    )
    for code, team_code, answers, yes, marks, mark_sum in session.execute(stmt):
        group = groups[(code, team_code)]
        group["answers"], group["answers_fixed"] = int(answers), int(yes or 0)
        group["marks"], group["mark_sum"] = int(marks), int(mark_sum or 0)

    return Figures(
        computed_at=now,
        week_starts=starts,
        groups=dict(groups),
        weekly=dict(weekly),
        fix_hours=dict(fix_hours),
    )


def _rate(part: int, whole: int, digits: int = 3) -> float | None:
    return round(part / whole, digits) if whole else None


def _row(values: Mapping[str, Any], hours: Mapping[int, int]) -> dict[str, Any]:
    median = _percentile(hours, 0.5)
    p90 = _percentile(hours, 0.9)
    return {
        "backlog": values["backlog"],
        "overdue": values["overdue"],
        "fixed": values["fixed"],
        "median_days_to_fix": round(median / 24, 2) if median is not None else None,
        "p90_days_to_fix": round(p90 / 24, 2) if p90 is not None else None,
        "fixed_steps": values["fixed_steps"],
        "reopened": values["reopened"],
        "reopen_rate": _rate(values["reopened"], values["fixed_steps"]),
        "answers": values["answers"],
        "fixed_share": _rate(values["answers_fixed"], values["answers"]),
        "mean_satisfaction": _rate(values["mark_sum"], values["marks"], 2),
    }


def _sum(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = defaultdict(int)
    for row in rows:
        for key, value in row.items():
            total[key] += value
    return total


def for_staff(
    *,
    session: Session,
    figures: Figures,
    staff: StaffUser,
    lang: str = "fr",
    service_code: str | None = None,
) -> dict[str, Any]:
    """The figures ``staff`` may see (their scope; one service if asked), named in ``lang``."""
    scope = service_scope(staff, session)
    services = {s.code: s for s in session.exec(sa.select(Service)).scalars()}  # type: ignore[call-overload]

    def visible(code: str | None) -> bool:
        if service_code is not None and code != service_code:
            return False
        return scope is None or (code is not None and code in scope)

    keys = sorted(
        (k for k in figures.groups if visible(k[0])),
        key=lambda k: (
            services[k[0]].sort_order if k[0] in services else 999,
            k[0] or "",
            k[1] or "",
        ),
    )
    rows = []
    for code, team_code in keys:
        service = services.get(code) if code else None
        rows.append(
            {
                "service_code": code,
                "service_name": service.name(lang) if service else None,
                "department": service.department if service else None,
                "team_code": team_code,
                **_row(
                    figures.groups[(code, team_code)], figures.fix_hours.get((code, team_code), {})
                ),
            }
        )
    chosen = set(keys)
    total_values = _sum(figures.groups[k] for k in keys)
    for name in _COUNTS:
        total_values.setdefault(name, 0)
    all_hours: dict[int, int] = defaultdict(int)
    for key in keys:
        for value, count in figures.fix_hours.get(key, {}).items():
            all_hours[value] += count
    weeks = []
    for index, start in enumerate(figures.week_starts):
        cells = [v for (c, t, i), v in figures.weekly.items() if i == index and (c, t) in chosen]
        weeks.append(
            {
                "week": start.date().isocalendar().week,
                "year": start.date().isocalendar().year,
                "start": start.date(),
                "inflow": sum(v["inflow"] for v in cells),
                "outflow": sum(v["outflow"] for v in cells),
            }
        )
    return {
        "computed_at": figures.computed_at,
        "period_start": figures.week_starts[0].date(),
        "weeks": weeks,
        "services": rows,
        "total": _row(total_values, all_hours),
    }


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"); the same rule
# as the open-data files (workers/publication/open_data.py), which the web may not import.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_FIELDS = [
    "service_code",
    "service_name",
    "department",
    "team_code",
    "backlog",
    "overdue",
    "fixed",
    "median_days_to_fix",
    "p90_days_to_fix",
    "fixed_steps",
    "reopened",
    "reopen_rate",
    "answers",
    "fixed_share",
    "mean_satisfaction",
]


def spreadsheet_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row whose text cells cannot run as formulas (numbers are left as numbers)."""
    return {
        key: "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
        for key, value in row.items()
    }


def csv_rows(view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's per-service rows and its total, as the CSV export writes them."""
    rows = [spreadsheet_safe({k: r.get(k) for k in CSV_FIELDS}) for r in view["services"]]
    total = {k: view["total"].get(k) for k in CSV_FIELDS[4:]}
    rows.append(spreadsheet_safe({"service_code": "total", **total}))
    return rows


def to_json(figures: Figures) -> dict[str, Any]:
    """``figures`` as a JSON document (tuple keys become lists)."""
    return {
        "computed_at": figures.computed_at.isoformat(),
        "week_starts": [w.isoformat() for w in figures.week_starts],
        "groups": [[list(k), v] for k, v in figures.groups.items()],
        "weekly": [[list(k), v] for k, v in figures.weekly.items()],
        "fix_hours": [[list(k), list(v.items())] for k, v in figures.fix_hours.items()],
    }


def from_json(data: Mapping[str, Any]) -> Figures:
    """The figures of a JSON document written by :func:`to_json`."""
    return Figures(
        computed_at=datetime.fromisoformat(data["computed_at"]),
        week_starts=[datetime.fromisoformat(w) for w in data["week_starts"]],
        groups={(k[0], k[1]): dict(v) for k, v in data["groups"]},
        weekly={(k[0], k[1], int(k[2])): dict(v) for k, v in data["weekly"]},
        fix_hours={(k[0], k[1]): {int(h): int(n) for h, n in v} for k, v in data["fix_hours"]},
    )


def snapshot_name(weeks: int) -> str:
    """The name of a period's stored figures (``staff_snapshot``)."""
    return f"dashboard-{weeks}"


def refresh(
    *, session: Session, periods: Iterable[int] = WEEK_CHOICES, now: datetime | None = None
) -> list[StaffSnapshot]:
    """Compute the figures of each period and store them (``staff_snapshot``); commits.

    The scheduled job ``workers.jobs.refresh_dashboard`` calls it every few minutes.
    """
    now = now or utcnow()
    stored = []
    for weeks in periods:
        figures = compute(session=session, weeks=weeks, now=now)
        name = snapshot_name(weeks)
        row = session.get(StaffSnapshot, name) or StaffSnapshot(name=name, computed_at=now, data={})
        row.computed_at, row.data = figures.computed_at, to_json(figures)
        session.add(row)
        session.commit()
        stored.append(row)
    return stored


def cached(*, session: Session, weeks: int = DEFAULT_WEEKS) -> Figures:
    """The stored figures of the period (the job's last run); computed and stored now when
    there are none yet (a new database, before the job's first run)."""
    row = session.get(StaffSnapshot, snapshot_name(weeks))
    if row is not None:
        return from_json(row.data)
    [stored] = refresh(session=session, periods=[weeks])
    return from_json(stored.data)
