"""The ``/staff/events`` pages: the calendar (coming events first), one event on a map with
what was deployed, and the create and edit forms.

A blueprint of its own (``staff_events``) sharing the staff layout, login and CSRF
(``staff_page_required``). Analysts, supervisors and admins; only admins delete. The rules of
an event are ``backend.services.events``' (the API's and the calendar import's too). The
analysis section (hourly profile, staffing, after the event) is the eventstats partial
``staff/events/_analysis.html``, included when it exists.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, request, url_for
from shapely.geometry import Point, shape
from shapely.ops import unary_union
from sqlmodel import select
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import current_staff
from backend.extensions import db
from backend.models import Area, Event
from backend.services import events as events_service
from backend.staff.pages import (
    NP_,
    Message,
    render_staff,
    staff_language,
    staff_page_required,
    translated,
)

bp = Blueprint("staff_events", __name__, url_prefix="/staff/events", template_folder="templates")

ROLES = ("analyst", "supervisor", "admin")
PAGE_SIZE = 100

# One context for this page's words, so that a short word ("Start", "Place") keeps its
# translation here whatever other pages make of it.
CTX = "events page"
TEXT: dict[str, Message] = {
    "heading": NP_(CTX, "Events"),
    "new": NP_(CTX, "New event"),
    "edit": NP_(CTX, "Edit"),
    "save": NP_(CTX, "Save"),
    "delete": NP_(CTX, "Delete this event"),
    "filter": NP_(CTX, "Filter"),
    "all": NP_(CTX, "all"),
    "kind": NP_(CTX, "Kind"),
    "from": NP_(CTX, "From"),
    "to": NP_(CTX, "To"),
    "name": NP_(CTX, "Name"),
    "when": NP_(CTX, "When"),
    "start": NP_(CTX, "Start"),
    "end": NP_(CTX, "End"),
    "place": NP_(CTX, "Place"),
    "attendance": NP_(CTX, "Expected attendance"),
    "notes": NP_(CTX, "Notes"),
    "source": NP_(CTX, "Source"),
    "count": NP_(CTX, "events"),
    "none": NP_(CTX, "No event for these filters."),
    "coming": NP_(CTX, "Coming"),
    "past": NP_(CTX, "Past"),
    "local_time": NP_(CTX, "Times are local (Europe/Paris)."),
    "resources": NP_(CTX, "Resources deployed"),
    "no_resources": NP_(CTX, "No resources recorded for this event."),
    "hour": NP_(CTX, "Hour"),
    "agents": NP_(CTX, "Agents"),
    "barriers": NP_(CTX, "Barriers"),
    "map_label": NP_(CTX, "Map of the event's place"),
    "place_kind": NP_(CTX, "Kind of place"),
    "point": NP_(CTX, "A point and a radius"),
    "polygon": NP_(CTX, "A polygon (GeoJSON)"),
    "areas": NP_(CTX, "Areas (codes)"),
    "lat": NP_(CTX, "Latitude"),
    "lon": NP_(CTX, "Longitude"),
    "radius": NP_(CTX, "Radius (metres)"),
    "geometry": NP_(CTX, "Polygon (GeoJSON geometry)"),
    "area_codes": NP_(CTX, "Area codes, separated by spaces"),
    "changed": NP_(
        CTX,
        "This event was changed by someone else meanwhile: nothing was saved. Here is the "
        "current version; make your change again.",
    ),
    "fix": NP_(CTX, "The event was not saved:"),
    "back": NP_(CTX, "Back to the events"),
    "saved": NP_(CTX, "Saved."),
    "concert": NP_(CTX, "Concert"),
    "match": NP_(CTX, "Match"),
    "market": NP_(CTX, "Market"),
    "demonstration": NP_(CTX, "Demonstration"),
    "neighbourhood_meeting": NP_(CTX, "Neighbourhood meeting"),
    "festival": NP_(CTX, "Festival"),
    "other": NP_(CTX, "Other"),
}


def _tz() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["PUBLIC_TIMEZONE"]))


def _local(value: datetime | None) -> str:
    return value.astimezone(_tz()).strftime("%Y-%m-%d %H:%M") if value else ""


def _day_arg(name: str) -> date | None:
    value = request.args.get(name)
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    # A year no calendar holds is no filter (and 9999-12-31 has no next day).
    if day is None or not events_service.FIRST_YEAR <= day.year <= events_service.LAST_YEAR:
        return None
    return day


def _lang_query() -> dict[str, Any]:
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("fr", "en") else {}


@bp.route("")
@staff_page_required(*ROLES)
def index() -> str:
    """The events (filters: kind, from, to), coming ones soonest first, then past ones."""
    text = translated(TEXT, staff_language())
    kind = request.args.get("kind") or None
    start, end = _day_arg("from"), _day_arg("to")
    tz = _tz()
    filters = events_service.EventFilters(
        kind=kind if kind in events_service.EVENT_KINDS else None,
        start=datetime.combine(start, datetime.min.time(), tzinfo=tz) if start else None,
        end=(
            datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
            if end
            else None
        ),
    )
    items, total = events_service.list_events(
        session=db.session, filters=filters, page_size=PAGE_SIZE, upcoming_first=True
    )
    now = datetime.now(tz)
    rows = [
        {
            "event": e,
            "start": _local(e.starts_at),
            "end": _local(e.ends_at),
            "place": events_service.place_label(e),
            "coming": e.ends_at >= now,
        }
        for e in items
    ]
    return render_staff(
        "staff/events/list.html",
        e_text=text,
        rows=rows,
        total=total,
        kinds=events_service.EVENT_KINDS,
        kind=filters.kind,
        start=start,
        end=end,
        query=_lang_query(),
    )


def _event_or_404(event_id: int) -> Event | None:
    return events_service.get_event(session=db.session, event_id=event_id)


def _not_found() -> tuple[str, int]:
    return render_staff("staff/error.html", code=404, message="404"), 404


def _place_features(event: Event) -> dict[str, Any]:
    """The event's place as GeoJSON for the map (a point with its radius, a polygon, areas),
    and, for context, the outlines of the quartiers around it."""
    features: list[dict[str, Any]] = []
    if event.lat is not None and event.lon is not None:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [event.lon, event.lat]},
                "properties": {"radius": event.radius_m or 0, "role": "place"},
            }
        )
    if event.geometry is not None:
        features.append(
            {"type": "Feature", "geometry": event.geometry, "properties": {"role": "place"}}
        )
    areas = list(db.session.exec(select(Area)))
    for area in areas:
        if area.code in event.area_codes:
            features.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(area.geometry),
                    "properties": {"name": area.name, "role": "place"},
                }
            )
    if features:
        around = unary_union(
            [shape(f["geometry"]) for f in features if f["geometry"]["type"] != "Point"]
            + [
                Point(f["geometry"]["coordinates"]).buffer(0.01)
                for f in features
                if f["geometry"]["type"] == "Point"
            ]
        ).envelope.buffer(0.005)
        for area in areas:
            if area.code in event.area_codes:
                continue
            outline = shape(json.loads(area.geometry))
            if outline.intersects(around):
                features.append(
                    {
                        "type": "Feature",
                        "geometry": json.loads(area.geometry),
                        "properties": {"name": area.name, "role": "context"},
                    }
                )
    return {"type": "FeatureCollection", "features": features}


@bp.route("/<dbint:event_id>")
@staff_page_required(*ROLES)
def detail(event_id: int) -> str | tuple[str, int]:
    """One event: when, where (on a map), how many, and what was deployed hour by hour."""
    event = _event_or_404(event_id)
    if event is None:
        return _not_found()
    text = translated(TEXT, staff_language())
    resources = events_service.resources_of(session=db.session, event_id=event_id)
    return render_staff(
        "staff/events/detail.html",
        e_text=text,
        event=event,
        start=_local(event.starts_at),
        end=_local(event.ends_at),
        place=events_service.place_label(event),
        resources=[
            {"hour": _local(r.hour), "agents": r.agents, "barriers": r.barriers} for r in resources
        ],
        place_geojson=_place_features(event),
        can_delete=current_staff().role == "admin",
        saved=request.args.get("saved") == "1",
        query=_lang_query(),
    )


# --- forms ----------------------------------------------------------------------------------


def _form_values(event: Event | None) -> dict[str, str]:
    """The form's fields for an event (empty for a new one)."""
    if event is None:
        return {"place_kind": "point", "kind": "other"}
    place_kind = "point" if event.lat is not None else ("polygon" if event.geometry else "areas")
    return {
        "name": event.name,
        "kind": event.kind,
        "start": event.starts_at.astimezone(_tz()).strftime("%Y-%m-%dT%H:%M"),
        "end": event.ends_at.astimezone(_tz()).strftime("%Y-%m-%dT%H:%M"),
        "place_kind": place_kind,
        "lat": "" if event.lat is None else f"{event.lat:g}",
        "lon": "" if event.lon is None else f"{event.lon:g}",
        "radius_m": "" if event.radius_m is None else f"{event.radius_m:g}",
        "geometry": json.dumps(event.geometry) if event.geometry else "",
        "area_codes": " ".join(event.area_codes),
        "expected_attendance": (
            "" if event.expected_attendance is None else str(event.expected_attendance)
        ),
        "notes": event.notes or "",
        "version": event.updated_at.isoformat(),
    }


def _number(form: dict[str, str], key: str, whole: bool = False) -> Any:
    text = (form.get(key) or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return int(text) if whole else float(text)
    except ValueError as exc:
        raise events_service.EventError(key, f"{key}: {text!r} is not a number") from exc


def _parse_form(form: dict[str, str]) -> dict[str, Any]:
    """The event's values from the form, or an EventError naming the field."""
    tz = str(current_app.config["PUBLIC_TIMEZONE"])
    data: dict[str, Any] = {
        "name": (form.get("name") or "").strip()[:300],
        "kind": form.get("kind") or "",
        "starts_at": events_service.parse_time(form.get("start") or "", "start", tz),
        "ends_at": events_service.parse_time(form.get("end") or "", "end", tz),
        "expected_attendance": _number(form, "expected_attendance", whole=True),
        "notes": (form.get("notes") or "").strip()[:2000] or None,
        "lat": None,
        "lon": None,
        "radius_m": None,
        "geometry": None,
        "area_codes": [],
    }
    place_kind = form.get("place_kind")
    if place_kind == "point":
        data.update(
            lat=_number(form, "lat"), lon=_number(form, "lon"), radius_m=_number(form, "radius_m")
        )
    elif place_kind == "polygon":
        try:
            data["geometry"] = json.loads(form.get("geometry") or "null")
        except ValueError as exc:
            raise events_service.EventError("geometry", "the polygon is not GeoJSON text") from exc
    elif place_kind == "areas":
        data["area_codes"] = (form.get("area_codes") or "").replace(",", " ").split()
    return data


def _form_page(
    event: Event | None, values: dict[str, str], error: str | None, status: int = 200
) -> tuple[str, int]:
    text = translated(TEXT, staff_language())
    return render_staff(
        "staff/events/form.html",
        e_text=text,
        event=event,
        values=values,
        error=error,
        kinds=events_service.EVENT_KINDS,
        query=_lang_query(),
    ), status


@bp.route("/new", methods=["GET", "POST"])
@staff_page_required(*ROLES)
def create() -> BaseResponse | tuple[str, int]:
    """The form of a new event; saved, it leads to the event's page."""
    if request.method == "GET":
        return _form_page(None, _form_values(None), None)
    form = request.form.to_dict()
    try:
        event = events_service.create_event(
            session=db.session, data=_parse_form(form), staff=current_staff()
        )
    except events_service.EventError as exc:
        return _form_page(None, form, exc.message, 422)
    return redirect(url_for("staff_events.detail", event_id=event.id, saved=1, **_lang_query()))


@bp.route("/<dbint:event_id>/edit", methods=["GET", "POST"])
@staff_page_required(*ROLES)
def edit(event_id: int) -> BaseResponse | tuple[str, int]:
    """The edit form; a version changed meanwhile saves nothing and says so."""
    event = _event_or_404(event_id)
    if event is None:
        return _not_found()
    if request.method == "GET":
        return _form_page(event, _form_values(event), None)
    form = request.form.to_dict()
    if form.get("version") != event.updated_at.isoformat():
        text = translated(TEXT, staff_language())
        return _form_page(event, _form_values(event), text["changed"], 409)
    try:
        events_service.update_event(
            session=db.session, event=event, data=_parse_form(form), staff=current_staff()
        )
    except events_service.EventError as exc:
        db.session.rollback()
        return _form_page(event, {**form, "version": form["version"]}, exc.message, 422)
    return redirect(url_for("staff_events.detail", event_id=event_id, saved=1, **_lang_query()))


@bp.route("/<dbint:event_id>/delete", methods=["POST"])
@staff_page_required("admin")
def delete(event_id: int) -> BaseResponse | tuple[str, int]:
    """Delete an event (admins), then back to the list."""
    event = _event_or_404(event_id)
    if event is None:
        return _not_found()
    events_service.delete_event(session=db.session, event=event, staff=current_staff())
    return redirect(url_for("staff_events.index", **_lang_query()))
