"""Who works a report and by when: routing rules, assignment to a team and a person, due dates.

- **Routing** (:func:`route_team`): once a report's service is known (the classification job,
  or a category corrected by staff), the most specific rule of ``routing_rule`` gives it a
  team: the longest ``area_prefix`` matching the report's area code (a rule without prefix
  matches every area), then the highest ``priority``, then the oldest rule.
- **Due date** (:func:`due_date`): the service's ``target_days`` after the report arrived, in
  calendar days, or in working days when the service says so (``working_days``): weekends and
  the city's public holidays (the ``holidays`` package; country and subdivision are settings)
  do not count.
- **Assignment** (:func:`assign`): a team, a person of it, or both; taking a case from a
  person or a team (a reassignment) needs a reason. Every change is one
  ``report.assigned`` audit row, which the report page shows as its internal history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Report, RoutingRule, Service, StaffUser, Team
from backend.models.staff import Role
from backend.services import audit
from backend.services.access import can_see_service, report_filter
from backend.services.workflow import CLOSED_STATUSES

__all__ = [
    "ASSIGNABLE_ROLES",
    "AssignmentError",
    "DeadlineSettings",
    "apply_routing",
    "assign",
    "check_assignment",
    "due_date",
    "route_team",
]

# The roles that work cases, and so may hold one.
ASSIGNABLE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
REASON_MAX = 500


class AssignmentError(ValueError):
    """An assignment refused; ``reason`` names why (``unknown_team``, ``unknown_person``,
    ``person_not_in_team``, ``person_out_of_scope``, ``reason_required``, ``nothing``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DeadlineSettings:
    """What due dates depend on: the city's time zone and public holidays."""

    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeadlineSettings:
        """The settings of an app's config (``backend.config``)."""
        return cls(
            timezone=str(config.get("PUBLIC_TIMEZONE") or "Europe/Paris"),
            country=str(config.get("HOLIDAYS_COUNTRY") or "FR"),
            subdivision=config.get("HOLIDAYS_SUBDIV") or None,
        )


def deadline_settings() -> DeadlineSettings:
    """The running app's deadline settings."""
    return DeadlineSettings.from_config(current_app.config)


@lru_cache(maxsize=8)
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    # Years are filled in lazily by the package as dates are asked.
    return holidays.country_holidays(country, subdiv=subdivision)


def is_working_day(day: date, settings: DeadlineSettings) -> bool:
    """Whether ``day`` is a working day of the city (not a weekend, not a public holiday)."""
    return day.weekday() < 5 and day not in _holidays(settings.country, settings.subdivision)


def due_date(
    *, start: datetime, target_days: int, working_days: bool, settings: DeadlineSettings
) -> datetime:
    """When a report that arrived at ``start`` is due (UTC).

    Parameters
    ----------
    start
        When the report arrived (aware, UTC).
    target_days
        The service's target; 0 means the same day, at the same time.
    working_days
        Count only working days: the due day is the ``target_days``-th working day after the
        day of ``start`` (in the city's time zone), at the same local time.
    settings
        The city's time zone and public holidays.
    """
    if not working_days:
        return start + timedelta(days=target_days)
    zone = ZoneInfo(settings.timezone)
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < target_days:
        day += timedelta(days=1)
        if is_working_day(day, settings):
            counted += 1
    due_local = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    return due_local.astimezone(start.tzinfo or zone)


def route_team(*, session: Session, service_code: str, area_code: str | None) -> str | None:
    """The team the routing rules give a report of ``service_code`` in ``area_code``."""
    rules = session.exec(
        select(RoutingRule)
        .join(Team, col(Team.code) == col(RoutingRule.team_code))
        .where(RoutingRule.service_code == service_code, col(Team.active).is_(True))
    ).all()
    matching = [
        rule
        for rule in rules
        if not rule.area_prefix or (area_code or "").startswith(rule.area_prefix)
    ]
    if not matching:
        return None
    best = min(
        matching, key=lambda rule: (-len(rule.area_prefix or ""), -rule.priority, rule.id or 0)
    )
    return best.team_code


def apply_routing(
    *, session: Session, report: Report, settings: DeadlineSettings, reroute: bool = False
) -> None:
    """Give ``report`` its team (routing rules) and due date once its service is known.

    Nothing is committed. A team set by staff is kept unless ``reroute`` (the category was
    corrected and nobody holds the case yet).
    """
    if report.service_code is None:
        return
    service = session.get(Service, report.service_code)
    if report.team_code is None or reroute:
        team = route_team(
            session=session, service_code=report.service_code, area_code=report.area_code
        )
        if team is not None:
            report.team_code = team
    if service is not None and (report.due_at is None or reroute):
        report.due_at = due_date(
            start=report.created_at,
            target_days=service.target_days,
            working_days=service.working_days,
            settings=settings,
        )
    session.add(report)


@dataclass(frozen=True)
class Assignment:
    """A checked change of who works a report (:func:`check_assignment`)."""

    team_code: str | None
    assignee: StaffUser | None
    reason: str | None


def check_assignment(
    *,
    session: Session,
    report: Report,
    team_code: str | None,
    assignee_id: int | None,
    reason: str | None,
    teams: Mapping[str, Team] | None = None,
    people: Mapping[int, StaffUser] | None = None,
) -> Assignment:
    """What assigning ``report`` would do, or AssignmentError saying why it may not.

    ``team_code`` None keeps the team (or takes the person's); ``assignee_id`` None keeps the
    person when the team stays, and unassigns when it changes (the person was of the old
    team). ``teams``/``people`` let a bulk action load them once.
    """
    note = (reason or "").strip() or None
    if note is not None and len(note) > REASON_MAX:
        raise AssignmentError("reason_too_long", f"The reason is limited to {REASON_MAX} chars.")
    person: StaffUser | None = None
    if assignee_id is not None:
        person = (people or {}).get(assignee_id) or session.get(StaffUser, assignee_id)
        if person is None or not person.active or person.role not in ASSIGNABLE_ROLES:
            raise AssignmentError(
                "unknown_person", f"No active agent or supervisor has the id {assignee_id}."
            )
        if not can_see_service(person, report.service_code, session):
            raise AssignmentError(
                "person_out_of_scope",
                f"{person.email} does not work the service '{report.service_code}'.",
            )
    team = team_code
    if team is None:
        team = person.team_code if person is not None and person.team_code else report.team_code
    else:
        found = (teams or {}).get(team) or session.get(Team, team)
        if found is None or not found.active:
            raise AssignmentError("unknown_team", f"No active team has the code '{team}'.")
    if person is not None and person.team_code and team and person.team_code != team:
        raise AssignmentError("person_not_in_team", f"{person.email} is not in the team '{team}'.")
    if person is None and team == report.team_code and report.assignee_id is not None:
        # Same team, nobody named: the person holding the case keeps it.
        person = (people or {}).get(report.assignee_id) or session.get(
            StaffUser, report.assignee_id
        )
    new_assignee = person.id if person is not None else None
    if team == report.team_code and new_assignee == report.assignee_id:
        raise AssignmentError("nothing", "The report is already assigned so.")
    # Taking a case from someone (another person, another team) needs a reason; giving a
    # team's case to one of its people, or a case nobody had, does not.
    takes_away = (report.assignee_id is not None and new_assignee != report.assignee_id) or (
        report.team_code is not None and team != report.team_code
    )
    if takes_away and note is None:
        raise AssignmentError(
            "reason_required", "A reason is required to reassign a report: say why."
        )
    return Assignment(team_code=team, assignee=person, reason=note)


def apply_assignment(
    *,
    session: Session,
    report: Report,
    change: Assignment,
    staff: StaffUser,
    audit_rows: list[dict[str, Any]] | None = None,
) -> None:
    """Apply a checked assignment with its audit row (``report.assigned``); no commit.

    ``audit_rows``: append the audit row there instead (a bulk action writes them together,
    ``audit.record_many``).
    """
    assert report.id is not None
    previous = {"team_code": report.team_code, "assignee_id": report.assignee_id}
    report.team_code = change.team_code
    report.assignee_id = change.assignee.id if change.assignee is not None else None
    report.updated_at = utcnow()
    session.add(report)
    details = {
        "from_team": previous["team_code"],
        "to_team": report.team_code,
        "from_assignee": previous["assignee_id"],
        "to_assignee": report.assignee_id,
        "to_assignee_email": change.assignee.email if change.assignee else None,
        "reason": change.reason,
    }
    row: dict[str, Any] = {
        "action": "report.assigned",
        "target": f"report:{report.id}",
        "details": details,
        # The report's new version (backend.services.versions): this change is not "after" it.
        "at": report.updated_at,
    }
    if audit_rows is not None:
        audit_rows.append(row)
    else:
        audit.record(
            session=session,
            actor=staff,
            action=str(row["action"]),
            target=str(row["target"]),
            details=details,
            at=report.updated_at,
        )


def assign(
    *,
    session: Session,
    report: Report,
    staff: StaffUser,
    team_code: str | None,
    assignee_id: int | None,
    reason: str | None,
) -> Report:
    """Assign ``report`` to a team and/or a person (see :func:`check_assignment`); commits."""
    change = check_assignment(
        session=session,
        report=report,
        team_code=team_code,
        assignee_id=assignee_id,
        reason=reason,
    )
    try:
        apply_assignment(session=session, report=report, change=change, staff=staff)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def list_teams(*, session: Session, active_only: bool = True) -> list[Team]:
    """The teams, by department then name."""
    stmt = select(Team)
    if active_only:
        stmt = stmt.where(col(Team.active).is_(True))
    return list(session.exec(stmt.order_by(col(Team.department), col(Team.name))))


def assignable_people(*, session: Session) -> list[StaffUser]:
    """The active agents and supervisors, by e-mail (whom a case can go to)."""
    stmt = (
        select(StaffUser)
        .where(col(StaffUser.active).is_(True), col(StaffUser.role).in_(ASSIGNABLE_ROLES))
        .order_by(func.lower(StaffUser.email))
    )
    return list(session.exec(stmt))


def assignment_history(*, session: Session, report: Report) -> list[dict[str, Any]]:
    """The report's assignments, oldest first: who, when, from, to, and the reason given."""
    rows = audit.for_target(session=session, target=f"report:{report.id}", action="report.assigned")
    return [{"actor": row.actor, "at": row.at, **row.details} for row in rows]


LATE_FACTOR = 3.0


def punctuality(
    *, session: Session, staff: StaffUser, since: datetime, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per team, of the reports ``staff`` may see: closed since ``since`` on time, late, more
    than 3x late (time taken over the time allowed, as Signalen counts it), and open overdue.

    A report closed late took longer than its due date allowed; "more than 3x late" took
    more than three times the time allowed. Reports without a due date are not counted.
    """
    now = now or utcnow()
    rows = session.execute(
        sa.select(
            col(Report.team_code),
            col(Report.created_at),
            col(Report.closed_at),
            col(Report.due_at),
            col(Report.status),
        )
        .where(report_filter(staff, session), col(Report.due_at).is_not(None))
        .where(
            sa.or_(
                col(Report.closed_at) >= since,
                col(Report.status).not_in(sorted(CLOSED_STATUSES)),
            )
        )
    ).all()
    names = {t.code: t.name for t in session.exec(select(Team))}
    teams: dict[str | None, dict[str, Any]] = {}
    for team_code, created, closed, due, status in rows:
        entry = teams.setdefault(
            team_code,
            {
                "team_code": team_code,
                "team_name": names.get(team_code or "", team_code),
                "closed": 0,
                "on_time": 0,
                "late": 0,
                "very_late": 0,
                "open_overdue": 0,
            },
        )
        if due is None:
            continue
        if status in CLOSED_STATUSES and closed is not None:
            allowed = max((due - created).total_seconds(), 1.0)
            taken = (closed - created).total_seconds()
            entry["closed"] += 1
            if taken <= allowed:
                entry["on_time"] += 1
            elif taken <= LATE_FACTOR * allowed:
                entry["late"] += 1
            else:
                entry["very_late"] += 1
        elif due < now:
            entry["open_overdue"] += 1
    result = sorted(teams.values(), key=lambda e: (e["team_name"] is None, e["team_name"] or ""))
    for entry in result:
        closed_count = entry["closed"]
        entry["on_time_share"] = entry["on_time"] / closed_count if closed_count else None
    return result


# --- The admin's tables: teams and routing rules (every change audited) -------------------


def create_team(
    *, session: Session, code: str, name: str, department: str, actor: audit.Actor
) -> Team:
    """Add a team; AssignmentError ``team_exists`` or ``team_invalid``; commits."""
    code, name, department = code.strip().lower(), name.strip(), department.strip()
    if not code or not name or not department or len(code) > 64 or not _slug(code):
        raise AssignmentError(
            "team_invalid",
            "A team needs a code (letters, digits, '-' or '_'), a name and a department.",
        )
    if session.get(Team, code) is not None:
        raise AssignmentError("team_exists", f"A team has the code {code!r} already.")
    team = Team(code=code, name=name[:200], department=department[:100])
    session.add(team)
    audit.record(
        session=session,
        actor=actor,
        action="team.created",
        target=f"team:{code}",
        details={"name": team.name, "department": team.department},
    )
    session.commit()
    return team


def set_team_active(*, session: Session, code: str, active: bool, actor: audit.Actor) -> Team:
    """Retire a team (its reports keep it; rules to it stop routing) or bring it back."""
    team = session.get(Team, code)
    if team is None:
        raise AssignmentError("unknown_team", f"No team has the code {code!r}.")
    if team.active != active:
        team.active = active
        session.add(team)
        audit.record(
            session=session,
            actor=actor,
            action="team.enabled" if active else "team.disabled",
            target=f"team:{code}",
        )
        session.commit()
    return team


def _slug(code: str) -> bool:
    return all(c.isalnum() or c in "-_" for c in code)


def list_rules(*, session: Session) -> list[RoutingRule]:
    """Every routing rule, by service then the most specific first."""
    rules = list(session.exec(select(RoutingRule)))
    return sorted(
        rules,
        key=lambda r: (r.service_code, -len(r.area_prefix or ""), -r.priority, r.id or 0),
    )


def add_rule(
    *,
    session: Session,
    service_code: str,
    area_prefix: str | None,
    team_code: str,
    priority: int,
    actor: audit.Actor,
) -> RoutingRule:
    """Add a routing rule (AssignmentError for an unknown service or team); commits."""
    if session.get(Service, service_code) is None:
        raise AssignmentError("unknown_service", f"No service has the code {service_code!r}.")
    if session.get(Team, team_code) is None:
        raise AssignmentError("unknown_team", f"No team has the code {team_code!r}.")
    prefix = (area_prefix or "").strip()[:64] or None
    rule = RoutingRule(
        service_code=service_code, area_prefix=prefix, team_code=team_code, priority=priority
    )
    session.add(rule)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="routing_rule.created",
        target=f"routing_rule:{rule.id}",
        details={
            "service_code": service_code,
            "area_prefix": prefix,
            "team_code": team_code,
            "priority": priority,
        },
    )
    session.commit()
    return rule


def delete_rule(*, session: Session, rule_id: int, actor: audit.Actor) -> None:
    """Remove a routing rule (reports it routed keep their team); commits."""
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise AssignmentError("unknown_rule", f"No routing rule has the id {rule_id}.")
    audit.record(
        session=session,
        actor=actor,
        action="routing_rule.deleted",
        target=f"routing_rule:{rule_id}",
        details={
            "service_code": rule.service_code,
            "area_prefix": rule.area_prefix,
            "team_code": rule.team_code,
            "priority": rule.priority,
        },
    )
    session.delete(rule)
    session.commit()
