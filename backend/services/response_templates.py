"""Response templates: public answers an admin writes once per service and status (FR, EN).

A template's text may hold placeholders among :data:`PLACEHOLDERS` only, as ``{name}``. They
are checked when the template is saved (:func:`check_text`: an unknown name, a positional
``{}``, an attribute or index (``{service.x}``, ``{area[0]}``), a conversion or a format spec
is refused) and filled in with :class:`string.Formatter` when it is used, from plain strings:
nothing in a template can reach an object's attributes. The result is the public note of a
status change, scrubbed and published like any other (``backend.services.public_notes``).
"""

from __future__ import annotations

import string
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from backend.db import utcnow
from backend.models import Area, Report, ResponseTemplate, Service, StaffUser
from backend.models.report import ReportStatus
from backend.services import audit
from backend.services.workflow import TRANSITIONS

__all__ = [
    "PLACEHOLDERS",
    "TEMPLATE_STATUSES",
    "TemplateError",
    "check_text",
    "fill",
    "get_template",
    "list_templates",
    "render_for",
    "save_template",
    "templates_for",
]

PLACEHOLDERS: tuple[str, ...] = ("tracking_id", "service", "area", "due_date")
# A template is the note of a move staff can make: never "received" (nobody moves a report
# back there) nor "duplicate" (the merge sets it).
TEMPLATE_STATUSES: tuple[str, ...] = tuple(
    s.value for s in ReportStatus if s not in (ReportStatus.RECEIVED, ReportStatus.DUPLICATE)
)
TEXT_MAX = 2000
TITLE_MAX = 200
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template refused; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_text(text: str) -> list[str]:
    """The problems of a template's text (empty list: it may be saved).

    >>> check_text("Report {tracking_id}: {who}")
    ["unknown placeholder {who}; the placeholders are {tracking_id}, {service}, {area}, {due_date}"]
    """
    problems: list[str] = []
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        return [f"{exc}; write {{{{ or }}}} for a brace"]
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            problems.append(f"unknown placeholder {{{name}}}; the placeholders are {known}")
        elif spec or conversion:
            problems.append(f"{{{name}}} takes no format or conversion")
    return problems


def _validate(
    session: Session,
    *,
    service_code: str | None,
    status: str,
    title: str,
    body_fr: str,
    body_en: str,
) -> None:
    if service_code is not None and session.get(Service, service_code) is None:
        raise TemplateError("service_code", f"unknown service_code '{service_code}'")
    if status not in TEMPLATE_STATUSES:
        raise TemplateError(
            "status", f"a template's status is one of: {', '.join(TEMPLATE_STATUSES)}"
        )
    if not title or len(title) > TITLE_MAX:
        raise TemplateError("title", f"a title is required (at most {TITLE_MAX} characters)")
    for field, text in (("body_fr", body_fr), ("body_en", body_en)):
        if not text:
            raise TemplateError(field, "both languages are required")
        if len(text) > TEXT_MAX:
            raise TemplateError(field, f"a template is limited to {TEXT_MAX} characters")
        problems = check_text(text)
        if problems:
            raise TemplateError(field, "; ".join(problems))


def save_template(
    *,
    session: Session,
    staff: StaffUser,
    service_code: str | None,
    status: str,
    title: str,
    body_fr: str,
    body_en: str,
    active: bool = True,
    template: ResponseTemplate | None = None,
) -> ResponseTemplate:
    """Create (``template`` None) or update a template, checked, audited; commits.

    Raises TemplateError for an unknown service, a status no move leads to, a missing text,
    or a placeholder that is not one of :data:`PLACEHOLDERS`.
    """
    title, body_fr, body_en = title.strip(), body_fr.strip(), body_en.strip()
    service_code = service_code or None
    _validate(
        session,
        service_code=service_code,
        status=status,
        title=title,
        body_fr=body_fr,
        body_en=body_en,
    )
    creating = template is None
    row = template or ResponseTemplate(status=status, title=title, body_fr="", body_en="")
    row.service_code, row.status, row.title = service_code, status, title
    row.body_fr, row.body_en, row.active = body_fr, body_en, active
    row.updated_by, row.updated_at = staff.email, utcnow()
    try:
        session.add(row)
        session.flush()
        audit.record(
            session=session,
            actor=staff,
            action="template.created" if creating else "template.updated",
            target=f"template:{row.id}",
            details={"service_code": service_code, "status": status, "title": title},
        )
        session.commit()
    except Exception as exc:
        session.rollback()
        if "uq_response_template" in str(exc) or "UNIQUE" in str(exc).upper():
            raise TemplateError(
                "title", "a template of this service and status already has this title"
            ) from exc
        raise
    return row


def get_template(*, session: Session, template_id: int) -> ResponseTemplate | None:
    """The template with this id, or None."""
    return session.get(ResponseTemplate, template_id)


def list_templates(*, session: Session) -> list[ResponseTemplate]:
    """Every template, by service (general ones first), status and title."""
    return list(
        session.exec(
            select(ResponseTemplate).order_by(
                col(ResponseTemplate.service_code).is_not(None),
                col(ResponseTemplate.service_code),
                col(ResponseTemplate.status),
                col(ResponseTemplate.title),
            )
        )
    )


def templates_for(*, session: Session, report: Report) -> list[ResponseTemplate]:
    """The active templates usable on ``report`` now: its service's or general ones, for a
    status the workflow allows from its current one."""
    allowed = sorted(TRANSITIONS.get(report.status, frozenset()))
    if not allowed:
        return []
    stmt = (
        select(ResponseTemplate)
        .where(col(ResponseTemplate.active).is_(True))
        .where(col(ResponseTemplate.status).in_(allowed))
        .where(
            or_(
                col(ResponseTemplate.service_code).is_(None),
                ResponseTemplate.service_code == report.service_code,
            )
        )
        .order_by(col(ResponseTemplate.status), col(ResponseTemplate.title))
    )
    return list(session.exec(stmt))


def _due_date(report: Report, service: Service | None) -> date | None:
    # The queues' due date when the report has one, else its service's target from intake.
    due: datetime | None = getattr(report, "due_at", None)
    if due is None and service is not None:
        due = report.created_at + timedelta(days=service.target_days)
    return due.date() if due is not None else None


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its placeholders replaced by ``values`` (plain strings only)."""
    return _FORMATTER.vformat(text, (), values)


def render_for(*, session: Session, template: ResponseTemplate, report: Report, lang: str) -> str:
    """The template's text in ``lang`` (fr/en) filled in for ``report``."""
    service = session.get(Service, report.service_code) if report.service_code else None
    area = (
        session.exec(select(Area).where(Area.code == report.area_code)).first()
        if report.area_code
        else None
    )
    due = _due_date(report, service)
    empty = "–"
    values: dict[str, Any] = {
        "tracking_id": report.tracking_id,
        "service": service.name(lang) if service else empty,
        "area": area.name if area else (report.area_code or empty),
        "due_date": (
            (due.isoformat() if lang == "en" else due.strftime("%d/%m/%Y")) if due else empty
        ),
    }
    return fill(template.body_en if lang == "en" else template.body_fr, values)
