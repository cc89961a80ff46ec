"""The public pages: the city, a neighbourhood, a report's tracking page, open data."""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import Domain, get_locale, refresh
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from backend.csp import set_policy
from backend.extensions import db, limiter
from backend.services import reports as reports_service
from public_site import TRANSLATIONS, maps, periods
from public_site import indicators as ind
from public_site.areas import CITY
from public_site.indicators import ALL, NOW
from public_site.maps import MapArea, classes, fill_for, render_map
from public_site.open_data import LICENCE, LICENCE_URL, open_data_path

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/public",
)
domain = Domain(translation_directories=[str(TRANSLATIONS)], domain="messages")
_ = domain.gettext

TRACKING_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DOWNLOADS = (
    "indicateurs.csv",
    "indicateurs.geojson",
    "backlog.csv",
    "signalements.csv",
    "signalements.geojson",
)


def lang() -> str:
    """The page's language (``fr`` or ``en``), worked out once per request."""
    # Kept on the request (not on ``g``, which an app context may share between requests).
    cached = request.environ.get("lanterne.lang")
    if cached is None:
        cached = "en" if str(get_locale() or "fr").startswith("en") else "fr"
        request.environ["lanterne.lang"] = cached
    return str(cached)


def area_url_maker(period: str | None) -> Any:
    """A fast maker of neighbourhood URLs (one ``url_for`` for a table of a hundred links)."""
    template = url_for("public.area", code="__CODE__")
    query = urlencode({k: v for k, v in (("periode", period), ("lang", lang())) if v})
    return lambda code: template.replace("__CODE__", quote(code, safe="")) + "?" + query


def lurl(endpoint: str, **values: Any) -> str:
    """A URL of this site that keeps the reader's language."""
    values.setdefault("lang", lang())
    return url_for(endpoint, **values)


def switch_lang_url() -> str:
    """The current page in the other language."""
    values: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict()}
    values["lang"] = "fr" if lang() == "en" else "en"
    return url_for(request.endpoint or "public.index", **values)


@bp.before_request
def _fresh_locale() -> None:
    # Flask-Babel caches the locale on the app context, which a test client (or any code
    # running requests inside one app context) shares between requests: start afresh.
    refresh()


@bp.context_processor
def _context() -> dict[str, Any]:
    language = lang()
    return {
        "_": domain.gettext,
        "gettext": domain.gettext,
        "ngettext": domain.ngettext,
        "lang": language,
        "lurl": lurl,
        "switch_lang_url": switch_lang_url,
        "period_label": lambda p: periods.label(p, language),
        "fmt": lambda value, suffix="": format_figure(value, suffix, language),
        "licence": LICENCE,
        "licence_url": LICENCE_URL,
    }


def fmt(value: Any, suffix: str = "") -> str:
    """A figure for display: thousands separated, ``–`` when not published."""
    return format_figure(value, suffix, lang())


def format_figure(value: Any, suffix: str, language: str) -> str:
    """A figure in a language: ``1 234,5`` in French, ``1,234.5`` in English."""
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:,.1f}" if value != int(value) else f"{int(value):,}"
    else:
        text = f"{value:,}"
    if language == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text + suffix


def tile_origin(tiles: str | None) -> str | None:
    """The origin of a tile server's URL template, for the policy's ``img-src``.

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` gives ``https://*.tile.example.org``.
    """
    if not tiles:
        return None
    parts = urlsplit(tiles.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@bp.after_request
def _headers(response: Response) -> Response:
    # Every script is a file of this site (Leaflet included, and each stored map's script,
    # see public_site.maps): no inline script runs, no nonce is needed, and pages can be
    # cached. Images: this site, and the tile server when the city configured one.
    if "Content-Security-Policy" not in response.headers:
        origin = tile_origin(current_app.config.get("PUBLIC_MAP_TILES"))
        images = ("'self'", "data:", *([origin] if origin else []))
        set_policy(response, img_src=images)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> tuple[str, int]:
    """Errors on the public site are HTML pages that say what to do next."""
    code = error.code or 500
    message = getattr(error, "description", "") or ""
    return render_template("public/error.html", code=code, message=message), code


def not_yet_published() -> str:
    """The page shown before the first publication: nothing is broken, there is nothing yet."""
    return render_template("public/not_yet.html")


def not_found(message: str) -> None:
    """A 404 with a helpful message."""
    abort(404, description=message)


# --- page cache -----------------------------------------------------------------------------

_PAGES: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_PAGES_LOCK = threading.Lock()
# City pages weigh ~190 KB (the outlines): 256 pages stay under ~50 MB per process.
PAGE_CACHE_SIZE = 256


def cached_page(view: Callable[..., str]) -> Callable[..., str]:
    """Serve a page from memory until the next publication (pages depend on nothing else)."""

    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> str:
        cat = ind.catalogue(db.session)
        key = (cat.serial, request.full_path, lang())
        with _PAGES_LOCK:
            page = _PAGES.get(key)
            if page is not None:
                _PAGES.move_to_end(key)
                return page
        page = view(**kwargs)
        with _PAGES_LOCK:
            _PAGES[key] = page
            while len(_PAGES) > PAGE_CACHE_SIZE:
                _PAGES.popitem(last=False)
        return page

    return wrapper


def clear_page_cache() -> None:
    """Forget every cached page, and the maps kept in memory (tests)."""
    with _PAGES_LOCK:
        _PAGES.clear()
    maps.clear_cache()


def stored_map(cat: ind.Catalogue, spec: maps.MapSpec) -> maps.BaseMap | None:
    """The base map the last publication drew for ``spec``, or None (the page shows a notice).

    Maps are drawn with folium by the worker at publication, never here (see public_site.maps).
    """
    return maps.stored_base_map(
        db.session,
        spec,
        tiles=current_app.config.get("PUBLIC_MAP_TILES"),
        attribution=current_app.config.get("PUBLIC_MAP_ATTRIBUTION") or "",
        version=cat.serial,
    )


# --- the city -------------------------------------------------------------------------------


def _choose_period(cat: ind.Catalogue, value: str | None) -> str:
    if not value:
        return cat.last_month
    try:
        return cat.check_period(value)
    except ind.UnknownPeriodError:
        not_found(
            _(
                "There are no figures for the period “%(period)s”. Periods look like "
                "2026-03 (a month), 2026-Q1 (a quarter) or 2026 (a year), from %(first)s to "
                "%(last)s.",
                period=value[:40],
                first=cat.first_month,
                last=cat.last_month,
            )
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _choose_service(cat: ind.Catalogue, value: str | None) -> str:
    if not value or value == ALL:
        return ALL
    try:
        return cat.service(value).code
    except ind.UnknownServiceError:
        not_found(_("There is no category “%(code)s”. Choose one from the list.", code=value[:40]))
    raise AssertionError("unreachable")  # pragma: no cover


def _service_names(cat: ind.Catalogue) -> dict[str, str]:
    names = {s.code: s.name(lang()) for s in cat.services}
    names[ALL] = _("All categories")
    return names


def _area_name(node: ind.AreaNode) -> str:
    if node.code == CITY:
        return _("the whole city")
    if node.level == "h3":
        return _("Sector %(code)s", code=node.code[-6:])
    if node.name == node.code and node.level == "arrondissement":
        # A group of quartiers by parent code, not imported with a name of its own.
        return _("District %(code)s", code=node.code)
    return node.name


@bp.route("/")
@cached_page
def index() -> str:
    """The city at a glance: the map, the table behind it, headline figures, what changed."""
    session = db.session
    cat = ind.catalogue(session)
    if not cat.published:
        return not_yet_published()
    period = _choose_period(cat, request.args.get("periode"))
    service = _choose_service(cat, request.args.get("categorie"))
    hierarchy = cat.hierarchy
    level = request.args.get("niveau") or hierarchy.finest_level
    if level not in {hierarchy.finest_level, hierarchy.parent_level}:
        not_found(_("There is no level of areas called “%(level)s”.", level=level[:40]))
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev], services=[service])
    fine_codes = hierarchy.level_codes(hierarchy.finest_level)
    coarse_codes = hierarchy.level_codes(hierarchy.parent_level) if hierarchy.parent_level else []
    shown = fine_codes if level == hierarchy.finest_level else coarse_codes
    values = [ind.value(table, (period, c, service)) for c in fine_codes]
    bounds = classes([v for v in values if v])
    coarse_values = [ind.value(table, (period, c, service)) for c in coarse_codes]
    coarse_bounds = classes([v for v in coarse_values if v])
    names = _service_names(cat)

    def areas_for(codes: list[str], layer_bounds: list[int]) -> list[MapArea]:
        out = []
        for code in codes:
            node = hierarchy.nodes[code]
            v = ind.value(table, (period, code, service))
            shown_value = fmt(v) if v is not None else _("not published")
            text = f"{_area_name(node)} : {shown_value}"
            out.append(MapArea(node=node, value=v, text=text, bounds=layer_bounds))
        return out

    label = _(
        "Map of %(what)s by area, %(period)s. The same figures are in the table below.",
        what=names[service].lower(),
        period=periods.label(period, lang()),
    )
    spec = maps.city_map_spec(hierarchy, fine_first=level == hierarchy.finest_level)
    base = stored_map(cat, spec)
    # Each level gets its own classes (quartiers and arrondissements differ tenfold).
    rendered = (
        render_map(
            base,
            areas=areas_for(fine_codes, bounds) + areas_for(coarse_codes, coarse_bounds),
            bounds=bounds,
            label=label,
        )
        if base is not None
        else None
    )
    legend_bounds = bounds if level == hierarchy.finest_level else coarse_bounds
    rows = []
    make_url = area_url_maker(period)
    for code in shown:
        node = hierarchy.nodes[code]
        v = ind.value(table, (period, code, service))
        p = ind.value(table, (prev, code, service))
        cell = table.get((period, code, service))
        rows.append(
            {
                "code": code,
                "name": _area_name(node),
                "value": v,
                "previous": p,
                "rate": cell.rate_per_1000 if cell else (0.0 if node.population else None),
                "fill": fill_for(v, legend_bounds),
                "url": make_url(code),
            }
        )
    rows.sort(key=lambda r: r["name"])
    headline = _headline(session, cat, period)
    changes = _changes(session, cat, period)
    legend = _legend(legend_bounds)
    return render_template(
        "public/index.html",
        period=period,
        previous=prev,
        service=service,
        services=cat.services,
        service_names=names,
        level=level,
        levels=[lvl for lvl in (hierarchy.finest_level, hierarchy.parent_level) if lvl],
        rows=rows,
        map=rendered,
        map_label=label,
        headline=headline,
        changes=changes,
        legend=legend,
        period_options=_period_options(cat),
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
    )


def _legend(bounds: list[int]) -> list[dict[str, str]]:
    items = []
    low = 1
    for bound in bounds:
        items.append({"fill": fill_for(bound, bounds), "label": f"{fmt(low)} – {fmt(bound)}"})
        low = bound + 1
    items.append({"fill": fill_for(0, bounds), "label": _("none")})
    items.append({"fill": fill_for(None, bounds), "label": _("not published (small count)")})
    return items


def _level_name(level: str) -> str:
    return {
        "quartier": _("Neighbourhoods (quartiers)"),
        "arrondissement": _("Districts (arrondissements)"),
        "h3": _("Sectors (hexagons)"),
    }.get(level, level)


def _period_options(cat: ind.Catalogue) -> list[tuple[str, str]]:
    months = periods.month_range(cat.first_month, cat.last_month)
    options = []
    for month in reversed(months[-24:]):
        options.append((month, periods.label(month, lang())))
    for quarter in sorted({periods.quarter_of(m) for m in months}, reverse=True)[:8]:
        options.append((quarter, periods.label(quarter, lang())))
    for year in sorted({periods.year_of(m) for m in months}, reverse=True):
        options.append((year, year))
    return options


def _headline(session: Any, cat: ind.Catalogue, period: str) -> dict[str, Any]:
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev, NOW], areas=[CITY], services=[ALL])
    now = table.get((period, CITY, ALL))
    before = table.get((prev, CITY, ALL))
    backlog = table.get((NOW, CITY, ALL))
    return {
        "reports": now.reports if now else 0,
        "previous": before.reports if before else 0,
        "fixed_pct": now.fixed_pct if now else None,
        "median_days": now.median_days if now else None,
        "satisfaction": now.satisfaction if now else None,
        "backlog": backlog.reports if backlog else 0,
        "rate": now.rate_per_1000 if now else None,
        "change": _change(now.reports if now else 0, before.reports if before else 0),
    }


def _change(now: int | None, before: int | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return round(100 * (now - before) / before)


def _changes(session: Any, cat: ind.Catalogue, period: str) -> list[dict[str, Any]]:
    """Categories that changed most at city level since the previous period."""
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev], areas=[CITY])
    names = _service_names(cat)
    out: list[dict[str, Any]] = []
    for service in cat.services:
        now = ind.value(table, (period, CITY, service.code))
        before = ind.value(table, (prev, CITY, service.code))
        if now is None or before is None or now == before:
            continue
        out.append(
            {
                "name": names[service.code],
                "code": service.code,
                "now": now,
                "before": before,
                "diff": now - before,
                "pct": _change(now, before),
            }
        )
    out.sort(key=lambda r: -abs(r["diff"]))
    return out[:5]


# --- a neighbourhood ------------------------------------------------------------------------


@bp.route("/quartiers/<path:code>")
@cached_page
def area(code: str) -> str:
    """A neighbourhood: categories against the city and the previous period, trend, map."""
    session = db.session
    cat = ind.catalogue(session)
    if not cat.published:
        return not_yet_published()
    try:
        node = cat.area(code)
    except ind.UnknownAreaError:
        node = None
    if node is None or code == CITY:
        not_found(
            _(
                "There is no neighbourhood with the code “%(code)s”. Pick one on the city page.",
                code=code[:40],
            )
        )
    assert node is not None
    period = _choose_period(cat, request.args.get("periode"))
    month = period if periods.kind(period) == "month" else periods.months_of(period)[-1]
    month = min(month, cat.last_month)
    quarter, year = periods.quarter_of(month), periods.year_of(month)
    column_periods = [
        month,
        periods.previous(month),
        quarter,
        periods.previous(quarter),
        year,
        periods.previous(year),
    ]
    trend_months = periods.month_range(max(cat.first_month, _months_back(month, 11)), month)
    table = ind.cells(
        session,
        period_list=[*column_periods, NOW, *trend_months],
        areas=[code, CITY],
    )
    names = _service_names(cat)
    rows = []
    for service in [*[s.code for s in cat.services], ALL]:
        year_cell = table.get((year, code, service))
        row: dict[str, Any] = {
            "code": service,
            "name": names[service],
            "values": [ind.value(table, (p, code, service)) for p in column_periods],
            "city": [ind.value(table, (p, CITY, service)) for p in (month, quarter, year)],
            "fixed_pct": year_cell.fixed_pct if year_cell is not None else None,
            "median_days": year_cell.median_days if year_cell is not None else None,
            "backlog": ind.value(table, (NOW, code, service)),
            "about_people": service != ALL and cat.service(service).about_people,
        }
        if service == ALL or any(v != 0 for v in row["values"]) or row["backlog"] != 0:
            rows.append(row)
    total = table.get((year, code, ALL))
    trend = [(m, ind.value(table, (m, code, ALL))) for m in trend_months]
    peak = max([v for _m, v in trend if v] or [1])
    map_area = MapArea(node=node, value=ind.value(table, (month, code, ALL)), text=_area_name(node))
    base = stored_map(cat, maps.area_map_spec(node))
    rendered = (
        render_map(
            base,
            areas=[map_area],
            bounds=[max(1, map_area.value or 1)],
            label=_("Map of %(name)s", name=_area_name(node)),
        )
        if base is not None
        else None
    )
    parent = cat.hierarchy.nodes.get(node.parent) if node.parent else None
    return render_template(
        "public/area.html",
        node=node,
        name=_area_name(node),
        parent=parent,
        parent_name=_area_name(parent) if parent else None,
        period=month,
        columns=column_periods,
        rows=rows,
        total=total,
        trend=trend,
        peak=peak,
        map=rendered,
        period_options=[o for o in _period_options(cat) if periods.kind(o[0]) == "month"],
        level_name=_level_name(node.level),
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
    )


def _months_back(month: str, n: int) -> str:
    for _i in range(n):
        month = periods.previous(month)
    return month


# --- tracking -------------------------------------------------------------------------------


def _tracking_limit() -> str:
    return str(current_app.config.get("RATELIMIT_PUBLIC_TRACKING") or "30 per minute")


@bp.route("/suivi/<path:tracking_id>", methods=["GET", "POST"])
@limiter.limit(_tracking_limit, key_func=lambda: request.remote_addr or "")
def tracking(tracking_id: str) -> Any:
    """A resident's own report: status, category, area, public history; no personal data."""
    session = db.session
    report = None
    if TRACKING_RE.match(tracking_id):
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
    if report is None:
        # The same answer for a malformed id, an unknown id and a wrong guess.
        not_found(_("No report has this tracking number. Check the link you received."))
    assert report is not None
    from backend.services import feedback as feedback_service

    form_error = None
    if request.method == "POST":
        try:
            answer = feedback_service.parse_form(request.form)
            feedback_service.submit_feedback(session=session, report=report, **answer)
            return redirect(lurl("public.tracking", tracking_id=tracking_id, merci=1), code=303)
        except feedback_service.FeedbackError as exc:
            form_error = feedback_message(exc.code)
    view = reports_service.public_view(session=session, report=report, lang=lang())
    cat = ind.catalogue(session)
    node = cat.hierarchy.nodes.get(report.area_code or "")
    can_answer = feedback_service.can_answer(session=session, report=report)
    return render_template(
        "public/tracking.html",
        view=view,
        area_name=_area_name(node) if node else None,
        area_code=node.code if node and node.level != "h3" else None,
        status_label=status_label,
        can_answer=can_answer,
        thanks=request.args.get("merci") == "1",
        form_error=form_error,
    ), (400 if form_error else 200)


def feedback_message(code: str) -> str:
    """The resident-facing reason a questionnaire answer was refused."""
    return {
        "not_fixed": _("The questionnaire opens once the city marks the report as fixed."),
        "already": _("This questionnaire was already answered. Thank you!"),
    }.get(
        code,
        _(
            "Please say whether it is really fixed (yes or no), "
            "and give a mark from 1 to 5 if you wish."
        ),
    )


def status_label(status: str) -> str:
    """The resident-facing name of a status."""
    return {
        "received": _("Received"),
        "open": _("Open"),
        "in_progress": _("In progress"),
        "fixed": _("Fixed"),
        "closed": _("Closed"),
        "rejected": _("Not followed up"),
        "duplicate": _("Duplicate of another report"),
    }.get(status, status)


# --- open data ------------------------------------------------------------------------------


def data_dir() -> Path:
    """Where the publication job writes the downloads."""
    return open_data_path(current_app.config)


@bp.route("/donnees")
def data() -> str:
    """Open data: the downloads, the data dictionary, the licence."""
    session = db.session
    cat = ind.catalogue(session)
    folder = data_dir()
    files = []
    for name in DOWNLOADS:
        path = folder / name
        if path.exists():
            files.append({"name": name, "size": path.stat().st_size})
    return render_template(
        "public/data.html",
        files=files,
        services=cat.services,
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
        grid=current_app.config["PUBLIC_GRID_DEGREES"],
        published=cat.published,
        first=periods.label(cat.first_month, lang()),
        last=periods.label(cat.last_month, lang()),
    )


@bp.route("/donnees/<path:name>")
def download(name: str) -> Response:
    """One download of the open data."""
    if name not in DOWNLOADS or not (data_dir() / name).exists():
        not_found(
            _(
                "There is no file called “%(name)s”. The list of files is on this page.",
                name=name[:60],
            )
        )
    mimetype = "text/csv" if name.endswith(".csv") else "application/geo+json"
    response = send_from_directory(data_dir(), name, mimetype=mimetype, as_attachment=True)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/cartes/<fingerprint>/<map_name>.js")
def map_script(fingerprint: str, map_name: str) -> Response:
    """A stored map's script, as a file (the pages run no inline script)."""
    script = maps.stored_script(db.session, fingerprint=fingerprint, map_name=map_name)
    if script is None:
        not_found(_("This map is no longer published. Reload the page."))
    response = Response(script, mimetype="text/javascript")
    # The URL names one drawing of one map: it never changes.
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.route("/static/vendor/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet's files, from the ``xstatic-leaflet`` package (no CDN)."""
    import xstatic.pkg.leaflet as leaflet_pkg

    response = send_from_directory(leaflet_pkg.BASE_DIR, filename, max_age=86400)
    return response


__all__ = ["Markup", "bp"]
