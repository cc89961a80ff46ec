"""Access rules: which services' reports a staff member may see, and who reads contacts.

Roles say which endpoints a person may call (``backend.auth.roles_required``); scope says
which services' reports they may see (:func:`can_see_service`, :func:`service_filter`). These
rules need no request, so the API, the staff pages and the services share them; what a role
may not see is answered like what does not exist (``backend.auth.visible_or_404``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from backend.models import Report, Service
from backend.models.staff import Role, StaffUser

__all__ = [
    "CONTACT_ROLES",
    "can_see_report",
    "report_filter",
    "can_read_contacts",
    "can_see_service",
    "service_filter",
    "service_scope",
]

# Contact details are for the people who work the cases; analysts never see them, and admins
# manage accounts and the catalogue, not cases (DESIGN.md, "Privacy rules").
CONTACT_ROLES: frozenset[str] = frozenset({Role.AGENT, Role.SUPERVISOR})


def service_scope(staff: StaffUser, session: Session) -> frozenset[str] | None:
    """The service codes whose reports ``staff`` may see; None means every service.

    Agents: their services. Supervisors: their department's services, plus any listed.
    Analysts and admins: every service (their endpoints are limited by role instead, and
    contact details by :func:`can_read_contacts`).
    """
    if staff.role in (Role.ANALYST, Role.ADMIN):
        return None
    codes = set(staff.service_codes or ())
    if staff.role == Role.SUPERVISOR and staff.department:
        in_department = select(Service.code).where(Service.department == staff.department)
        codes.update(session.exec(in_department))
    return frozenset(codes)


def can_see_service(staff: StaffUser, service_code: str | None, session: Session) -> bool:
    """Whether ``staff`` may see reports of ``service_code`` (None: not yet routed)."""
    scope = service_scope(staff, session)
    if scope is None:
        return True
    return service_code is not None and service_code in scope


def service_filter(staff: StaffUser, column: Any, session: Session) -> ColumnElement[bool]:
    """A WHERE clause keeping the rows of ``column`` (a service-code column) ``staff`` may see.

    ``select(Report).where(service_filter(staff, Report.service_code, session))``
    """
    scope = service_scope(staff, session)
    if scope is None:
        return true()
    if not scope:
        return false()
    return col(column).in_(sorted(scope))


def can_read_contacts(staff: StaffUser) -> bool:
    """Whether the role may read reporters' contact details (every read goes to the audit log)."""
    return staff.role in CONTACT_ROLES


def _team_bound(staff: StaffUser) -> bool:
    # An agent of a team works their team's cases (and those nobody was given yet); agents
    # without a team, and supervisors, work every case of their services.
    return staff.role == Role.AGENT and bool(staff.team_code)


def can_see_report(staff: StaffUser, report: Report, session: Session) -> bool:
    """Whether ``staff`` may see ``report``: its service, and for an agent of a team, a case
    of their team, of nobody's team yet, or their own."""
    if not can_see_service(staff, report.service_code, session):
        return False
    if not _team_bound(staff):
        return True
    return report.team_code in (None, staff.team_code) or report.assignee_id == staff.id


def report_filter(staff: StaffUser, session: Session) -> ColumnElement[bool]:
    """A WHERE clause on ``report`` keeping what :func:`can_see_report` allows."""
    by_service = service_filter(staff, Report.service_code, session)
    if not _team_bound(staff):
        return by_service
    return and_(
        by_service,
        or_(
            col(Report.team_code).is_(None),
            col(Report.team_code) == staff.team_code,
            col(Report.assignee_id) == staff.id,
        ),
    )
