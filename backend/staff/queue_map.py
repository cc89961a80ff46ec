"""The ``/staff/map`` page: the triage queue on a Leaflet map (local assets, plain script).

The page draws nothing itself: ``static/queue_map.js`` asks ``/staff/map/data`` for the
reports of the visible box, grouped by the grid (``backend.services.queue_map``), with the
queue's filters, and draws the markers; each single report links to its page. No folium:
the web never imports it here.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from backend.auth import current_staff
from backend.extensions import db
from backend.services import queue_map as queue_map_service
from backend.services import triage
from backend.services.access import service_scope
from backend.services.catalogue import list_services
from backend.services.workflow import STATUSES
from backend.staff.pages import (
    N_,
    Message,
    render_staff,
    staff_blueprint,
    staff_language,
    staff_page_required,
    translated,
)
from backend.staff.triage import STATUS_NAMES, TRIAGE_ROLES
from backend.staff.triage import TEXT as TRIAGE_TEXT

bp = staff_blueprint(
    "staff_map",
    __name__,
    url_prefix="/staff/map",
    static_folder="static",
    static_url_path="/static",
)

# Marseille's centre, and the box a first load shows.
CENTRE = (43.2965, 5.3698)
STATUS_COLOURS = {
    "received": "#d7301f",
    "open": "#fc8d59",
    "in_progress": "#2b8cbe",
    "waiting": "#6a51a3",
    "fixed": "#1a9850",
    "closed": "#636363",
    "rejected": "#969696",
    "duplicate": "#bdbdbd",
}

TEXT: dict[str, Message] = {
    "heading": N_("Map of the queue"),
    "intro": N_(
        "The reports of the triage queue's filters. Near reports are grouped (the number "
        "says how many): zoom in to see each one, click a report to open it."
    ),
    "map_label": N_("Map of the reports of the queue"),
    "reports": N_("reports"),
    "truncated": N_("Too many places to show at once: zoom in."),
    "legend": N_("Colours: the report's status"),
    "as_list": N_("The same reports as a list"),
}


def filters_from(args: Any) -> triage.TriageFilters:
    """The queue's filters from a query string (unknown values are ignored, as the queue does)."""
    scope = service_scope(current_staff(), db.session)
    code = args.get("service_code") or None
    status = args.get("status") or None
    return triage.TriageFilters(
        needs_triage={"1": True, "0": False}.get(args.get("needs_triage") or "1", True),
        service_code=code if code and (scope is None or code in scope) else None,
        area_code=(args.get("area_code") or "").strip()[:64] or None,
        status=status if status in STATUSES else None,
    )


def _float(name: str, default: float, low: float, high: float) -> float:
    value = request.args.get(name, type=float)
    return default if value is None else min(max(value, low), high)


@bp.route("")
@staff_page_required(*TRIAGE_ROLES)
def index() -> str:
    """The map page, with the queue's filter form."""
    lang = staff_language()
    scope = service_scope(current_staff(), db.session)
    services = [s for s in list_services(session=db.session) if scope is None or s.code in scope]
    query: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if k in ("needs_triage", "service_code", "area_code", "status", "lang")
    }
    status_names = translated(STATUS_NAMES, lang)
    return render_staff(
        "staff/queue_map.html",
        m=translated(TEXT, lang),
        tr=translated(TRIAGE_TEXT, lang),
        filters=filters_from(request.args),
        services=[(s.code, s.name(lang)) for s in services],
        statuses=list(STATUSES),
        status_names=status_names,
        colours=STATUS_COLOURS,
        config={
            "data": url_for("staff_map.data", **query),
            "report": url_for("staff_triage.report", report_id=0).rsplit("0", 1)[0],
            "centre": CENTRE,
            "colours": STATUS_COLOURS,
            "names": status_names,
            "reports": translated(TEXT, lang)["reports"],
        },
        queue_url=url_for("staff_triage.queue", **query),
        query=query,
    )


@bp.route("/data")
@staff_page_required(*TRIAGE_ROLES)
def data() -> Response:
    """The GeoJSON of the visible box (``south``, ``west``, ``north``, ``east``, ``zoom``)."""
    box = queue_map_service.Box(
        south=_float("south", CENTRE[0] - 0.1, -90, 90),
        west=_float("west", CENTRE[1] - 0.15, -180, 180),
        north=_float("north", CENTRE[0] + 0.1, -90, 90),
        east=_float("east", CENTRE[1] + 0.15, -180, 180),
    )
    zoom = request.args.get("zoom", 12, type=int) or 12
    answer = queue_map_service.queue_map(
        session=db.session,
        staff=current_staff(),
        filters=filters_from(request.args),
        box=box,
        zoom=zoom,
    )
    return jsonify(answer)
