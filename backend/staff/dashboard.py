"""The ``/staff/dashboard`` page and its CSV export: the services' figures for supervisors,
analysts and admins (``backend.services.dashboard``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request

from backend.auth import current_staff
from backend.extensions import db
from backend.services import audit, dashboard
from backend.services.access import service_scope
from backend.services.catalogue import list_services
from backend.staff.pages import (
    N_,
    Message,
    render_staff,
    staff_blueprint,
    staff_language,
    staff_page_required,
    translated,
)
from backend.staff.triage import _when

bp = staff_blueprint("staff_dashboard", __name__, url_prefix="/staff")

DASHBOARD_ROLES = ("supervisor", "analyst", "admin")

TEXT: dict[str, Message] = {
    "heading": N_("Dashboard of the services"),
    "intro": N_(
        "Figures of the last {weeks} weeks (ISO weeks, the current one so far), for the "
        "services you may see. Not public: the public site shows published aggregates only."
    ),
    "service": N_("Service"),
    "department": N_("Department"),
    "team": N_("Team"),
    "backlog": N_("Backlog"),
    "overdue": N_("Overdue"),
    "fixed": N_("Fixed"),
    "median": N_("Median days to fix"),
    "p90": N_("90th percentile, days"),
    "reopen_rate": N_("Reopened"),
    "answers": N_("Questionnaires"),
    "fixed_share": N_("Say it is fixed"),
    "satisfaction": N_("Mean mark (1-5)"),
    "total": N_("Total"),
    "per_week": N_("Inflow and outflow per week"),
    "week": N_("Week"),
    "inflow": N_("Received"),
    "outflow": N_("Closed"),
    "so_far": N_("so far"),
    "weeks": N_("Weeks"),
    "all": N_("all"),
    "show": N_("Show"),
    "csv": N_("Download these figures (CSV)"),
    "definitions": N_(
        "Backlog: reports not closed now. Overdue: past their due date. Time to fix: from "
        "receipt to closure, of the reports fixed in the period. Reopened: share of the "
        "reports fixed in the period that went back to an open status afterwards."
    ),
    "none": N_("No figure for these services yet."),
    "computed": N_("Figures computed at {time}; they are refreshed every 5 minutes."),
}


def _args() -> tuple[int, str | None]:
    weeks = request.args.get("weeks", dashboard.DEFAULT_WEEKS, type=int)
    if weeks not in dashboard.WEEK_CHOICES:
        weeks = dashboard.DEFAULT_WEEKS
    code = request.args.get("service_code") or None
    scope = service_scope(current_staff(), db.session)
    if code is not None and scope is not None and code not in scope:
        code = None
    return weeks, code


def _view(weeks: int, code: str | None, lang: str) -> dict[str, Any]:
    figures = dashboard.cached(session=db.session, weeks=weeks)
    return dashboard.for_staff(
        session=db.session, figures=figures, staff=current_staff(), lang=lang, service_code=code
    )


@bp.route("/dashboard")
@staff_page_required(*DASHBOARD_ROLES)
def index() -> str:
    """The figures per service and per week, with the export's link."""
    lang = staff_language()
    weeks, code = _args()
    scope = service_scope(current_staff(), db.session)
    services = [s for s in list_services(session=db.session) if scope is None or s.code in scope]
    text = translated(TEXT, lang)
    text["intro"] = text["intro"].format(weeks=weeks)
    view = _view(weeks, code, lang)
    text["computed"] = text["computed"].format(time=_when(view["computed_at"], lang))
    query = {k: v for k, v in request.args.items() if k in ("weeks", "service_code", "lang")}
    return render_staff(
        "staff/dashboard.html",
        d=text,
        view=view,
        weeks=weeks,
        week_choices=dashboard.WEEK_CHOICES,
        service_code=code,
        services=[(s.code, s.name(lang)) for s in services],
        query=query,
        lang_code=lang,
    )


@bp.route("/dashboard.csv")
@staff_page_required(*DASHBOARD_ROLES)
def export() -> Response:
    """The exact figures of the page as CSV (formula-safe cells); the export is audited."""
    weeks, code = _args()
    view = _view(weeks, code, staff_language())
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=dashboard.CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(dashboard.csv_rows(view))
    audit.record(
        session=db.session,
        actor=current_staff(),
        action="dashboard.exported",
        target="dashboard",
        details={"weeks": weeks, "service_code": code},
    )
    db.session.commit()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="lanterne-dashboard.csv"'},
    )
