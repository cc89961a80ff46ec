"""What every public page shares: the blueprint, language, figures' format, headers, cache.

Each page is a module of ``public_site.pages`` that adds its routes to ``bp``; the app
mounts it with ``public_site.register_public_site``.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import Domain, get_locale, refresh
from werkzeug.exceptions import HTTPException

from backend.csp import set_policy
from backend.extensions import db
from backend.services.catalogue import UnknownServiceError
from public_site import indicators as ind
from public_site import maps, periods
from public_site.areas import CITY, AreaNode
from public_site.indicators import ALL
from public_site.open_data import LICENCE, LICENCE_URL

TRANSLATIONS = Path(__file__).resolve().parent / "translations"

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/public",
)
domain = Domain(translation_directories=[str(TRANSLATIONS)], domain="messages")
_ = domain.gettext


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


# --- fingerprinted assets -------------------------------------------------------------------

_VERSIONS: dict[tuple[str, str], str] = {}
# A year: the URL changes with the file (``?v=``), so a kept copy is never stale.
ASSET_MAX_AGE = 365 * 86400


def asset_version(endpoint: str, filename: str) -> str:
    """A short hash of an asset's content (this site's files and Leaflet's), for its URL."""
    key = (endpoint, filename)
    version = _VERSIONS.get(key)
    if version is None:
        if endpoint == "public.leaflet":
            import xstatic.pkg.leaflet as leaflet_pkg

            folder = Path(leaflet_pkg.BASE_DIR)
        else:
            folder = Path(bp.static_folder or "")
        path = (folder / filename).resolve()
        try:
            content = path.read_bytes() if path.is_relative_to(folder.resolve()) else b""
        except OSError:
            content = b""
        version = hashlib.sha256(content).hexdigest()[:12]
        _VERSIONS[key] = version
    return version


@bp.url_defaults
def _asset_urls(endpoint: str, values: dict[str, Any]) -> None:
    # Every URL of an asset names its content: ``site.css?v=3f2a...``.
    if endpoint in ("public.static", "public.leaflet") and "filename" in values:
        values.setdefault("v", asset_version(endpoint, values["filename"]))


def _asset_caching(response: Response) -> None:
    if request.endpoint not in ("public.static", "public.leaflet") or response.status_code != 200:
        return
    # Read whole (a few KB to 150 KB) so that it is compressed, and its file closed at once.
    response.direct_passthrough = False
    response.make_sequence()
    filename = (request.view_args or {}).get("filename", "")
    if request.args.get("v") == asset_version(request.endpoint, filename):
        response.cache_control.public = True
        response.cache_control.max_age = ASSET_MAX_AGE
        response.cache_control.immutable = True
    else:
        # An old or missing version: kept an hour, then checked with its ETag.
        response.cache_control.public = True
        response.cache_control.max_age = 3600


@bp.after_request
def _headers(response: Response) -> Response:
    # Every script is a file of this site (Leaflet included, and each stored map's script,
    # see public_site.maps): no inline script runs, no nonce is needed, and pages can be
    # cached. Images: this site, and the tile server when the city configured one.
    if "Content-Security-Policy" not in response.headers:
        origin = tile_origin(current_app.config["PUBLIC_MAP_TILES"])
        images = ("'self'", "data:", *([origin] if origin else []))
        set_policy(response, img_src=images)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    _asset_caching(response)
    return response


@bp.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> tuple[str, int]:
    """Errors on the public site are HTML pages that say what to do next."""
    code = error.code or 500
    message = getattr(error, "description", "") or ""
    return render_template("public/error.html", code=code, message=message), code


# Where a client is always a program: errors there keep the API's JSON shape.
JSON_PREFIXES = ("/api/", "/open311/")


def wants_error_page() -> bool:
    """Whether an error outside any page's blueprint (an unknown URL, a wrong method) should
    answer the site's HTML page: a browser asking HTML, not under ``/api/`` or ``/open311/``.

    ``Accept: */*`` or no Accept (curl, scripts) keeps the JSON answer, as for the API.
    """
    if request.path.startswith(JSON_PREFIXES) or request.path in ("/api", "/open311"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def error_page_response(error: HTTPException) -> Response:
    """The site's HTML error page (FR/EN) for a request no public page handled (a 404 for an
    unknown URL, a 405, a 500), with the public pages' headers and policy."""
    code = error.code or 500
    message = getattr(error, "description", "") or ""
    refresh()
    body = render_template("public/error.html", code=code, message=message, **_context())
    response = Response(body, status=code, mimetype="text/html")
    for name, value in error.get_headers():
        if name == "Allow":  # a 405 says which methods the URL takes
            response.headers[name] = value
    return _headers(response)


def not_yet_published() -> str:
    """The page shown before the first publication: nothing is broken, there is nothing yet."""
    return render_template("public/not_yet.html")


def not_found(message: str) -> None:
    """A 404 with a helpful message."""
    abort(404, description=message)


# --- page cache -----------------------------------------------------------------------------

_PAGES: OrderedDict[tuple[Any, ...], tuple[str, str]] = OrderedDict()
_PAGES_LOCK = threading.Lock()
# City pages weigh ~190 KB (the outlines): 256 pages stay under ~50 MB per process.
PAGE_CACHE_SIZE = 256


def cached_page(view: Callable[..., str]) -> Callable[..., Response]:
    """Serve a page from memory until the next publication (pages depend on nothing else).

    The page carries an ETag (a hash of its text): a browser or a cache that has it asks
    again with ``If-None-Match`` and gets ``304 Not Modified`` without the page; it keeps it
    ``PUBLIC_PAGE_MAX_AGE`` seconds without asking. The language can come from the browser's
    ``Accept-Language`` (no ``?lang=``): shared caches keep one copy per language.
    """

    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> Response:
        cat = ind.catalogue(db.session)
        key = (cat.serial, request.full_path, lang())
        with _PAGES_LOCK:
            cached = _PAGES.get(key)
            if cached is not None:
                _PAGES.move_to_end(key)
        if cached is None:
            page = view(**kwargs)
            cached = (page, hashlib.sha256(page.encode()).hexdigest()[:32])
            with _PAGES_LOCK:
                _PAGES[key] = cached
                while len(_PAGES) > PAGE_CACHE_SIZE:
                    _PAGES.popitem(last=False)
        response = Response(cached[0], mimetype="text/html")
        response.set_etag(cached[1])
        response.cache_control.public = True
        response.cache_control.max_age = current_app.config["PUBLIC_PAGE_MAX_AGE"]
        response.vary.add("Accept-Language")
        response.make_conditional(request)  # 304 when the browser has this page
        return response

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
        tiles=current_app.config["PUBLIC_MAP_TILES"],
        attribution=current_app.config["PUBLIC_MAP_ATTRIBUTION"] or "",
        version=cat.serial,
    )


# --- what several pages show ---------------------------------------------------------------


def choose_period(cat: ind.Catalogue, value: str | None) -> str:
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


def choose_service(cat: ind.Catalogue, value: str | None) -> str:
    if not value or value == ALL:
        return ALL
    try:
        return cat.service(value).code
    except UnknownServiceError:
        not_found(_("There is no category “%(code)s”. Choose one from the list.", code=value[:40]))
    raise AssertionError("unreachable")  # pragma: no cover


def service_names(cat: ind.Catalogue) -> dict[str, str]:
    names = {s.code: s.name(lang()) for s in cat.services}
    names[ALL] = _("All categories")
    return names


def area_name(node: AreaNode) -> str:
    if node.code == CITY:
        return _("the whole city")
    if node.level == "h3":
        return _("Sector %(code)s", code=node.code[-6:])
    if node.name == node.code and node.level == "arrondissement":
        # A group of quartiers by parent code, not imported with a name of its own.
        return _("District %(code)s", code=node.code)
    return node.name


def level_name(level: str) -> str:
    return {
        "quartier": _("Neighbourhoods (quartiers)"),
        "arrondissement": _("Districts (arrondissements)"),
        "h3": _("Sectors (hexagons)"),
    }.get(level, level)


def period_options(cat: ind.Catalogue) -> list[tuple[str, str]]:
    months = periods.month_range(cat.first_month, cat.last_month)
    options = []
    for month in reversed(months[-24:]):
        options.append((month, periods.label(month, lang())))
    for quarter in sorted({periods.quarter_of(m) for m in months}, reverse=True)[:8]:
        options.append((quarter, periods.label(quarter, lang())))
    for year in sorted({periods.year_of(m) for m in months}, reverse=True):
        options.append((year, year))
    return options
