"""The triage queue: its tabs and filters, the priority of a report, the ranking of a page.

The priority of a report (docs/staff.md, "Triage priority") is the sum of three parts, each
shown beside it so that nobody has to trust a number they cannot explain::

    priority    = uncertainty + lateness + links
    uncertainty = 2 x (1 - classifier confidence)   while the report needs triage, else 0
                  (2 when it was never classified)
    lateness    = min(age in days / target days of its service, 3)
    links       = sum over linked official incidents of rule weight x severity x sqrt(count),
                  capped at max_priority_boost (5)         (backend.services.links)

Ties go to the older report. The actions on a report live in ``backend.services.triage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from backend.db import UTCDateTime, utcnow
from backend.models import Report, ReportStatus, Service, StaffUser
from backend.models.incident import ReportIncidentLink
from backend.services.access import report_filter
from backend.services.links import priority_boosts, priority_boosts_where
from backend.services.workflow import CLOSED_STATUSES, OPEN_STATUSES, STATUSES

UNCERTAINTY_WEIGHT = 2.0
LATENESS_CAP = 3.0
DEFAULT_TARGET_DAYS = 7

# The queue's tabs (docs/staff.md, "Queues"): each keeps the reports not closed, and
#   work     assigned to me or to my team (the default view of the pages)
#   mine     assigned to me            team     assigned to my team (without a team: every
#                                               report of my services)
#   new      not yet read (received)   overdue  past their due date
#   waiting  waiting for the resident  all      every report in my scope
TABS: tuple[str, ...] = ("work", "mine", "team", "new", "overdue", "waiting", "all")
WAITING_STATUS = "waiting"  # added by the case-work piece; counted by its name
SEARCH_MAX = 200
# Every status but the closed ones (a status added to the workflow's enum joins it).
NOT_CLOSED: tuple[str, ...] = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)
# Past this many reports, their links are read in one query joined on the queue's WHERE.
LINKS_BY_ID = 900
# Queues up to this size are ranked whole here; longer ones, only the rows that can reach the
# page asked (see rank_queue), plus this many for the rounding of the database's sort.
RANK_IN_PYTHON = 2000
RANK_MARGIN = 50


@dataclass(frozen=True)
class TriageFilters:
    """What the queue keeps. ``status`` None: the open statuses (received, open, in progress),
    or with a ``tab``, every status not closed."""

    needs_triage: bool | None = True
    service_code: str | None = None
    area_code: str | None = None
    status: str | None = None
    tab: str | None = None
    search: str | None = None
    team_code: str | None = None
    assignee_id: int | None = None


@dataclass(frozen=True)
class Priority:
    """A report's triage priority and its parts (see the module's docstring)."""

    total: float
    uncertainty: float
    lateness: float
    links: float
    age_days: float
    target_days: int

    def parts(self) -> dict[str, float]:
        """The three parts, by name."""
        return {"uncertainty": self.uncertainty, "lateness": self.lateness, "links": self.links}


def priority_of(
    *,
    confidence: float | None,
    needs_triage: bool,
    created_at: datetime,
    closed_at: datetime | None,
    target_days: int | None,
    links: float,
    now: datetime,
) -> Priority:
    """The priority of one report from what it is made of (pure; the formula is above).

    Parameters
    ----------
    confidence
        The classifier's calibrated confidence in the report's category (None: never
        classified).
    needs_triage
        Whether the category waits for a human; only then does uncertainty count.
    created_at, closed_at
        The report's age runs from ``created_at`` to ``closed_at``, or to ``now`` while open.
    target_days
        The service's target time to fix, in days (None: not routed, 7; 0 counts as 1).
    links
        The boost of the report's links to official incidents (already capped).
    now
        The time of the ranking.

    Returns
    -------
    Priority
        The total and its parts, rounded to 3 decimals.
    """
    uncertainty = 0.0
    if needs_triage:
        sure = min(max(confidence if confidence is not None else 0.0, 0.0), 1.0)
        uncertainty = UNCERTAINTY_WEIGHT * (1.0 - sure)
    target = DEFAULT_TARGET_DAYS if target_days is None else target_days
    age_days = max(((closed_at or now) - created_at).total_seconds(), 0.0) / 86_400
    lateness = min(age_days / max(target, 1), LATENESS_CAP)
    uncertainty, lateness, links = round(uncertainty, 3), round(lateness, 3), round(links, 3)
    return Priority(
        total=round(uncertainty + lateness + links, 3),
        uncertainty=uncertainty,
        lateness=lateness,
        links=links,
        age_days=round(age_days, 2),
        target_days=target,
    )


def services_by_code(session: Session) -> dict[str, Service]:
    """Every service of the catalogue, by code (inactive ones too: old reports keep theirs)."""
    return {s.code: s for s in session.exec(select(Service))}


def _ranked(
    session: Session,
    rows: Sequence[Any],
    services: dict[str, Service],
    now: datetime,
    conditions: Sequence[ColumnElement[bool]] | None = None,
) -> list[tuple[int, Priority, datetime]]:
    """(id, priority, created_at) of rows of (id, created_at, closed_at, confidence,
    needs_triage, service_code), most urgent first (``conditions``: the WHERE that chose
    them, to read their links in one query)."""
    ids = [row[0] for row in rows]
    if conditions is not None and len(ids) > LINKS_BY_ID:
        boosts = priority_boosts_where(session, ids, conditions)
    else:
        boosts = priority_boosts(session, ids)
    ranked = []
    for report_id, created_at, closed_at, confidence, needs_triage, service_code in rows:
        service = services.get(service_code) if service_code else None
        priority = priority_of(
            confidence=confidence,
            needs_triage=needs_triage,
            created_at=created_at,
            closed_at=closed_at,
            target_days=service.target_days if service else None,
            links=boosts[report_id],
            now=now,
        )
        ranked.append((report_id, priority, created_at))
    ranked.sort(key=lambda item: (-item[1].total, item[2], item[0]))
    return ranked


def _tab_condition(tab: str, staff: StaffUser, now: datetime) -> ColumnElement[bool]:
    mine = col(Report.assignee_id) == staff.id
    # Without a team, the team of a member is everyone who works their services (the scope
    # the caller adds): their work is their services' queue, as before teams existed.
    team = col(Report.team_code) == staff.team_code if staff.team_code else sa.true()
    conditions: dict[str, ColumnElement[bool]] = {
        "work": sa.or_(mine, team),
        "mine": mine,
        "team": team,
        "new": col(Report.status) == ReportStatus.RECEIVED.value,
        "overdue": col(Report.due_at) < now,
        "waiting": col(Report.status) == WAITING_STATUS,
        "all": sa.true(),
    }
    return conditions[tab]


def _search_condition(text: str) -> ColumnElement[bool]:
    """An id (``123`` or ``#123``), a tracking id, or words of the text or the address."""
    text = text.strip()[:SEARCH_MAX]
    options: list[ColumnElement[bool]] = [col(Report.tracking_id) == text]
    number = text.lstrip("#")
    if number.isdigit() and len(number) < 12:
        options.append(col(Report.id) == int(number))
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    options.append(col(Report.description).ilike(pattern, escape="\\"))
    options.append(col(Report.address).ilike(pattern, escape="\\"))
    return sa.or_(*options)


def queue_conditions(
    *, session: Session, staff: StaffUser, filters: TriageFilters, now: datetime
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the queue ``filters`` describe, within ``staff``'s scope."""
    conditions: list[ColumnElement[bool]] = [report_filter(staff, session)]
    if filters.needs_triage is not None:
        conditions.append(col(Report.needs_triage).is_(filters.needs_triage))
    if filters.service_code is not None:
        conditions.append(col(Report.service_code) == filters.service_code)
    if filters.area_code is not None:
        conditions.append(col(Report.area_code) == filters.area_code)
    if filters.team_code is not None:
        conditions.append(col(Report.team_code) == filters.team_code)
    if filters.assignee_id is not None:
        conditions.append(col(Report.assignee_id) == filters.assignee_id)
    if filters.search:
        conditions.append(_search_condition(filters.search))
    if filters.tab is not None:
        conditions.append(_tab_condition(filters.tab, staff, now))
    if filters.status is not None:
        conditions.append(col(Report.status) == filters.status)
    elif filters.tab is not None:
        # The statuses not closed, named (an IN that the (team, status) and (assignee,
        # status) indexes read as ranges, where NOT IN would read every closed report too).
        conditions.append(col(Report.status).in_(NOT_CLOSED))
    else:
        conditions.append(col(Report.status).in_(OPEN_STATUSES))
    return conditions


def tab_counts(
    *, session: Session, staff: StaffUser, filters: TriageFilters, now: datetime | None = None
) -> dict[str, int]:
    """How many reports each tab holds, with the other filters of ``filters`` (one query)."""
    now = now or utcnow()
    base = replace(filters, tab="all", status=None)
    counts = [sa.func.count().filter(_tab_condition(tab, staff, now)).label(tab) for tab in TABS]
    row = session.execute(
        sa.select(*counts).where(
            *queue_conditions(session=session, staff=staff, filters=base, now=now)
        )
    ).one()
    return {tab: int(row._mapping[tab] or 0) for tab in TABS}


def rank_queue(
    *,
    session: Session,
    staff: StaffUser,
    filters: TriageFilters,
    services: dict[str, Service],
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
    total: int | None = None,
) -> tuple[list[tuple[Report, Priority]], int]:
    """One page of the reports ``staff`` may see, most urgent first, and how many match.

    ``total``: how many match, when the caller knows already (the tab's count).

    The priority needs the links, so every matching report is ranked (a few columns each, the
    links counted in one query per 900 reports), then only the page is loaded in full.
    ``services`` is ``services_by_code``'s answer (the caller names the services with it).
    """
    now = now or utcnow()
    stmt = sa.select(
        col(Report.id),
        col(Report.created_at),
        col(Report.closed_at),
        col(Report.confidence),
        col(Report.needs_triage),
        col(Report.service_code),
    )
    conditions = queue_conditions(session=session, staff=staff, filters=filters, now=now)
    start = (page - 1) * page_size
    if total is None:
        total = session.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()
    if total <= RANK_IN_PYTHON:
        rows = session.execute(stmt.where(*conditions)).all()
    else:
        # A long queue: only the reports that can be on this page are ranked here. A report
        # without links has priority = uncertainty + lateness, which the database computes
        # and sorts (with a margin for rounding); a linked one may climb by up to the links'
        # cap, so every linked report of the queue is ranked too. The page's reports are
        # among these, in the same order as if the whole queue were ranked.
        linked = sa.exists().where(col(ReportIncidentLink.report_id) == col(Report.id))
        base = _base_priority(session, services, now)
        unlinked = session.execute(
            stmt.where(*conditions, ~linked)
            .order_by(base.desc(), col(Report.created_at), col(Report.id))
            .limit(start + page_size + RANK_MARGIN)
        ).all()
        rows = [*unlinked, *session.execute(stmt.where(*conditions, linked)).all()]
    ranked = _ranked(session, rows, services, now, conditions)
    chosen = ranked[start : start + page_size]
    ids = [report_id for report_id, _, _ in chosen]
    reports = {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(ids)))}
    page_items = [
        (reports[report_id], priority) for report_id, priority, _ in chosen if report_id in reports
    ]
    return page_items, int(total)


def _base_priority(
    session: Session, services: dict[str, Service], now: datetime
) -> ColumnElement[float]:
    """uncertainty + lateness of the module's formula, as SQL (the priority without links).

    In double precision throughout (PostgreSQL's EXTRACT and integer division would make it
    numeric, several times slower to sort on), each part computed once.
    """
    targets = {code: float(max(s.target_days, 1)) for code, s in services.items()}
    target = sa.case(targets, value=col(Report.service_code), else_=float(DEFAULT_TARGET_DAYS))
    end = sa.func.coalesce(col(Report.closed_at), sa.literal(now, UTCDateTime()))
    sqlite = session.get_bind().dialect.name == "sqlite"
    # SQLite's scalar min/max of several arguments are PostgreSQL's least/greatest.
    least, greatest = (
        getattr(sa.func, n) for n in (("min", "max") if sqlite else ("least", "greatest"))
    )
    if sqlite:
        age = sa.func.julianday(end) - sa.func.julianday(col(Report.created_at))
    else:
        age = sa.cast(sa.extract("epoch", end - col(Report.created_at)), sa.Float) / 86_400.0
    lateness = least(greatest(age, 0.0) / target, LATENESS_CAP)
    sure = least(greatest(sa.func.coalesce(col(Report.confidence), 0.0), 0.0), 1.0)
    uncertainty = sa.case(
        (col(Report.needs_triage).is_(True), UNCERTAINTY_WEIGHT * (1.0 - sure)), else_=0.0
    )
    return uncertainty + lateness
