"""``/staff/questionnaires``: how residents judged the city's fixes, per service.

For each service: the questionnaire's answers, the share saying "really fixed", the mean
satisfaction and how many reports the residents reopened. Supervisors, analysts and admins
see the services of their scope (``backend.services.access``); agents their own services.
Each report's own answer and comment are on its report page.
"""

from __future__ import annotations

from typing import Any

from backend.auth import current_staff
from backend.extensions import db
from backend.models import Report
from backend.services import feedback
from backend.services.access import service_filter
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

bp = staff_blueprint("staff_questionnaires", __name__, url_prefix="/staff")

ROLES = ("agent", "supervisor", "analyst", "admin")

TEXT: dict[str, Message] = {
    "heading": N_("Questionnaires: is it really fixed?"),
    "intro": N_(
        "Residents are asked once the city says a report is fixed. A “not fixed” answer "
        "within the reopening window reopens the report. Exact figures, for staff only."
    ),
    "service": N_("Service"),
    "answers": N_("Answers"),
    "fixed_share": N_("Really fixed"),
    "satisfaction": N_("Mean satisfaction (1–5)"),
    "reopened": N_("Reopened by residents"),
    "none": N_("No answer yet for your services."),
    "unrouted": N_("not yet routed"),
    "total": N_("All your services"),
}


def _percent(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value * 100:.0f} %"
    return text if lang == "fr" else text.replace(" %", "%")


def _mean(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "fr" else text


@bp.route("/questionnaires")
@staff_page_required(*ROLES)
def questionnaires() -> str:
    """The questionnaire's figures of each service the staff member may see."""
    lang = staff_language()
    staff = current_staff()
    rows = feedback.figures_by_service(
        session=db.session, scope=service_filter(staff, Report.service_code, db.session)
    )
    names = {s.code: s.name(lang) for s in list_services(session=db.session)}
    tr = translated(TEXT, lang)
    answers = sum(r.answers for r in rows)
    total: dict[str, Any] = {
        "answers": answers,
        "fixed_share": _percent(sum(r.fixed for r in rows) / answers if answers else None, lang),
        "reopened": sum(r.reopened for r in rows),
    }
    return render_staff(
        "staff/questionnaires.html",
        tr=tr,
        rows=[
            {
                "service": names.get(r.service_code or "", r.service_code or tr["unrouted"]),
                "answers": r.answers,
                "fixed_share": _percent(r.fixed_share, lang),
                "satisfaction": _mean(r.mean_satisfaction, lang),
                "reopened": r.reopened,
            }
            for r in rows
        ],
        total=total if len(rows) > 1 else None,
    )
