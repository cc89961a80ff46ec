"""The ``/staff/signals`` page: the weak signals on a map and in a table, with verdicts.

A blueprint of its own (``staff_signals``) beside the ``/staff`` pages, sharing their layout
(``render_staff``), their login and their CSRF protection (``staff_page_required``).
"""

from __future__ import annotations

import html
import json
from datetime import date
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from markupsafe import Markup
from sqlmodel import col, select
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import current_staff
from backend.csp import csp_nonce
from backend.extensions import db
from backend.models import Area, Signal, SignalStatus
from backend.services import signals as signals_service
from backend.staff.pages import N_, render_staff, staff_language, staff_page_required, translated

bp = Blueprint("staff_signals", __name__, url_prefix="/staff/signals", template_folder="templates")

PAGE_SIZE = 100
KIND_COLOURS = {"scan": "#d7301f", "temporal": "#2b8cbe", "cooccurrence": "#6a51a3"}

TEXT: dict[str, str] = {
    "heading": N_("Weak signals"),
    "map_label": N_("Map of the quartiers of the signals shown"),
    "filter": N_("Filter"),
    "all": N_("all"),
    "status": N_("Status"),
    "kind": N_("Detector"),
    "day": N_("Detection day"),
    "what": N_("What was found"),
    "span": N_("Period"),
    "recurrence": N_("Recurrence by chance (days)"),
    "change": N_("Save"),
    "note": N_("Note"),
    "none": N_("No signal for these filters."),
    "count": N_("signals"),
    "scan": N_("Space-time cluster"),
    "temporal": N_("Spike in one quartier"),
    "cooccurrence": N_("Explanatory factor"),
    "new": N_("new"),
    "acknowledged": N_("acknowledged"),
    "dismissed": N_("dismissed"),
    "confirmed": N_("confirmed"),
}


@bp.after_request
def _harden(response: Response) -> Response:
    # Same headers as the other staff pages: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _day_arg(name: str) -> date | None:
    value = request.args.get(name)
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def signals_map(signals: list[Signal], lang: str, label: str) -> Markup:
    """A folium map of the signals' areas (coloured by detector), as an embeddable frame.

    folium (with pandas, which it imports when installed) weighs 75 MB: it is imported here, so
    only a web worker that served an analyst this page carries it, not every worker. The
    public maps are drawn by the worker at publication (workers/publication/drawing.py); signals
    change with each detection and are filtered per request, so this one is drawn here.
    """
    import folium

    codes = sorted({c for s in signals for c in s.area_codes})
    areas = {a.code: a for a in db.session.exec(select(Area).where(col(Area.code).in_(codes)))}
    fmap = folium.Map(location=[43.2965, 5.3698], zoom_start=12, tiles=None, control_scale=True)
    # Leaflet from this site (xstatic-leaflet, as the public maps), not folium's CDNs: the
    # page's Content-Security-Policy, which the frame's document inherits, allows no other.
    fmap.default_js = [("leaflet", url_for("public.leaflet", filename="leaflet.js"))]
    fmap.default_css = [("leaflet_css", url_for("public.leaflet", filename="leaflet.css"))]
    features = []
    for s in signals:
        text = s.explanation_en if lang == "en" else s.explanation_fr
        for code in s.area_codes:
            area = areas.get(code)
            if area is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(area.geometry),
                    "properties": {
                        # escaped here: folium's tooltip inserts properties as HTML
                        "t": html.escape(f"#{s.id} {area.name}: {text}"),
                        "c": KIND_COLOURS.get(s.kind, "#636363"),
                    },
                }
            )
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            style_function=lambda f: {
                "fillColor": f["properties"]["c"],
                "color": "#333333",
                "weight": 1,
                "fillOpacity": 0.45,
            },
            tooltip=folium.GeoJsonTooltip(fields=["t"], labels=False),
        )
        layer.add_to(fmap)
        fmap.fit_bounds(layer.get_bounds())  # type: ignore[arg-type]
    # folium writes its inline scripts as bare <script> tags: they get the page's nonce, so
    # they are the only inline scripts the frame runs (the tooltips' texts were escaped above).
    document = fmap.get_root().render().replace("<script>", f'<script nonce="{csp_nonce()}">')
    # Markup.format escapes both values: the map document goes into the srcdoc attribute.
    return Markup('<iframe class="signals-map" title="{}" srcdoc="{}"></iframe>').format(
        label, document
    )


@bp.route("")
@staff_page_required("analyst", "admin")
def index() -> str:
    """The latest signals (filters: status, detector, detection day) on a map and a table."""
    lang = staff_language()
    text = translated(TEXT, lang)
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    filters = signals_service.SignalFilters(
        status=status if status in {s.value for s in SignalStatus} else None,
        kind=kind if kind in KIND_COLOURS else None,
        as_of=_day_arg("as_of"),
    )
    items, total = signals_service.list_signals(
        session=db.session, filters=filters, page=1, page_size=PAGE_SIZE
    )
    return render_staff(
        "staff/signals.html",
        s_text=text,
        signals=items,
        total=total,
        filters=filters,
        statuses=[s.value for s in SignalStatus],
        kinds=list(KIND_COLOURS),
        colours=KIND_COLOURS,
        map_html=signals_map(items, lang, text["map_label"]),
    )


@bp.route("/<dbint:signal_id>/status", methods=["POST"])
@staff_page_required("analyst", "admin")
def set_status(signal_id: int) -> BaseResponse | tuple[str, int]:
    """Record a verdict from the table's form, then come back to the list."""
    signal = signals_service.get_signal(session=db.session, signal_id=signal_id)
    status = request.form.get("status", "")
    if signal is None or status not in {s.value for s in SignalStatus}:
        return render_staff("staff/error.html", code=404, message="404"), 404
    note = (request.form.get("note") or "").strip()[:2000] or None
    signals_service.set_signal_status(
        session=db.session, signal=signal, status=status, staff=current_staff(), note=note
    )
    back: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("status", "kind")}
    return redirect(url_for("staff_signals.index", **back) + f"#signal-{signal_id}")
