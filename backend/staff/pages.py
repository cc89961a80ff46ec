"""What every staff page shares, in any blueprint: the layout and its language strings, the
login and role check with CSRF (:func:`staff_page_required`), the hardened headers, the
error and login pages.

The pages' words are gettext messages, in English in the code and in French in
``backend/translations/fr/LC_MESSAGES/messages.po`` (the public site's mechanism, with a
catalogue of its own: see docs/staff.md). Each page picks its language per request
(:func:`staff_language`) and translates with it explicitly (:func:`translated`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import Domain, force_locale
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from backend.auth import (
    check_roles,
    end_staff_session,
    login_retry_minutes,
    optional_staff,
    session_staff,
)
from backend.csp import csp_nonce, set_policy

P = ParamSpec("P")

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
domain = Domain(translation_directories=[str(TRANSLATIONS)], domain="messages")

#: A message: its English text, or (context, English text) where one English word has two
#: French ones (``open``: "ouvert" for a status, "ouverts" for the open statuses).
Message = str | tuple[str, str]


def N_(message: str) -> str:  # noqa: N802 (gettext_noop's usual name)
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:  # noqa: N802
    """Mark ``message`` with a context for the catalogue (``pgettext``)."""
    return (context, message)


def _gettext(message: Message) -> str:
    if isinstance(message, tuple):
        return domain.pgettext(*message)
    return domain.gettext(message)


def translated(messages: Mapping[str, Message], lang: str) -> dict[str, str]:
    """``messages`` in ``lang`` (``fr`` or ``en``), by key."""
    # An explicit locale: Flask-Babel caches its choice on the app context, which the test
    # client shares between requests (see staff_language).
    with force_locale(lang):
        return {key: _gettext(message) for key, message in messages.items()}


def translated_list(messages: Iterable[Message], lang: str) -> list[str]:
    """``messages`` in ``lang``, in order."""
    with force_locale(lang):
        return [_gettext(message) for message in messages]


TEXT: dict[str, Message] = {
    "title": N_("Staff area"),
    "login": NP_("page title", "Log in"),
    "email": N_("E-mail address"),
    "password": N_("Password"),
    "submit": N_("Log in"),
    "logout": N_("Log out"),
    "bad_login": N_("Wrong e-mail address or password."),
    "expired_form": N_("The form expired; please try again."),
    "too_many": N_("Too many attempts. Try again in {minutes} min."),
    "forbidden": N_("Your role does not give access to this page."),
    "error": N_("Something went wrong."),
    "welcome": N_("Welcome"),
    "role": N_("Role"),
    "department": N_("Department"),
    "services": N_("Services"),
    "none": N_("none"),
    "can_do": N_("What your role can do"),
    "api": N_("Staff API"),
    "api_help": N_(
        "Tools and scripts use a token (Authorization: Bearer header), issued by an "
        "administrator with 'lanterne staff token'."
    ),
    "docs": N_("API documentation"),
    "back": N_("Back to the start page"),
    "other_lang": N_("Français"),
    "pages": N_("Your pages"),
}


@dataclass(frozen=True)
class StaffPage:
    """A page the start page may list: its label, its endpoint, the roles that may open it."""

    label: Message
    endpoint: str
    roles: tuple[str, ...]


CASE_ROLES = ("agent", "supervisor")

#: Every staff page the start page may list, in one place. A page is listed only when its
#: endpoint exists in the app (the piece that builds it registers it) and the member's role
#: may open it, so the start page never promises a page that is not there. The case-work
#: piece's pages are listed here too.
STAFF_PAGES: tuple[StaffPage, ...] = (
    StaffPage(
        N_("Triage queue: the reports of your services, most urgent first"),
        "staff_triage.queue",
        CASE_ROLES,
    ),
    StaffPage(
        N_("Overdue reports and each team's punctuality"), "staff_triage.punctuality", CASE_ROLES
    ),
    StaffPage(N_("Map of the queue"), "staff_map.index", CASE_ROLES),
    StaffPage(
        N_("Dashboard: backlog, time to fix, overdue, satisfaction"),
        "staff_dashboard.index",
        ("supervisor", "analyst", "admin"),
    ),
    StaffPage(
        N_("Questionnaires: residents' answers and reopenings, per service"),
        "staff_questionnaires.questionnaires",
        ("agent", "supervisor", "analyst", "admin"),
    ),
    StaffPage(N_("Weak signals: map and table"), "staff_signals.index", ("analyst", "admin")),
    StaffPage(
        N_("Events: the calendar, places and resources deployed"),
        "staff_events.index",
        ("supervisor", "analyst", "admin"),
    ),
    StaffPage(
        N_("Response templates per service and status"), "staff_casework.templates", ("admin",)
    ),
    StaffPage(N_("Staff accounts and roles"), "staff_admin.accounts", ("admin",)),
    StaffPage(N_("Teams"), "staff_admin.teams", ("admin",)),
    StaffPage(N_("Open311 API keys"), "staff_admin.api_keys", ("admin",)),
    StaffPage(
        N_("Service catalogue: names, target days, department"), "staff_admin.services", ("admin",)
    ),
    StaffPage(
        N_("Routing rules: which team gets which reports"), "staff_admin.routing", ("admin",)
    ),
    StaffPage(N_("Audit log: who did what, when"), "staff_admin.audit_log", ("admin",)),
)


def pages_for(role: str, lang: str) -> list[tuple[str, str]]:
    """(label, URL) of the pages of :data:`STAFF_PAGES` that exist and ``role`` may open."""
    query: dict[str, Any] = {}
    if request.args.get("lang") in ("fr", "en"):
        query["lang"] = request.args["lang"]
    shown = [
        page
        for page in STAFF_PAGES
        if role in page.roles and page.endpoint in current_app.view_functions
    ]
    labels = translated_list([page.label for page in shown], lang)
    return [
        (label, url_for(page.endpoint, **query)) for label, page in zip(labels, shown, strict=True)
    ]


ROLE_NAMES: dict[str, str] = {
    "agent": N_("Agent"),
    "supervisor": N_("Supervisor"),
    "analyst": N_("Analyst"),
    "admin": N_("Admin"),
}


def staff_language() -> str:
    """The language of a staff page: ``?lang=``, then Accept-Language; French first."""
    # The app's rule (?lang=, then Accept-Language, French first), read per request: Babel
    # caches its answer on the app context, which the test client shares between requests.
    lang = request.args.get("lang")
    if lang in ("fr", "en"):
        return lang
    return request.accept_languages.best_match(["fr", "en"]) or "fr"


def render_staff(template: str, **context: Any) -> str:
    """Render a staff page (templates extend ``staff/base.html``) with its language strings.

    Other pieces' staff pages (a signals map...) use it too, so that they share the layout.
    """
    lang = staff_language()
    other = "fr" if lang == "en" else "en"
    return render_template(
        template,
        lang=lang,
        t=translated(TEXT, lang),
        role_names=translated(ROLE_NAMES, lang),
        other_lang=other,
        other_lang_url=f"{request.path}?lang={other}",
        signed_in=optional_staff(),
        csp_nonce=csp_nonce,
        **context,
    )


def error_page(error: HTTPException) -> tuple[str, int]:
    """The page answering an HTTP error of a staff page (every staff blueprint's handler).

    The API's JSON errors would be unreadable here: staff pages answer with pages.
    """
    code = error.code or 500
    t = translated(TEXT, staff_language())
    if isinstance(error, CSRFError):
        message = t["expired_form"]
        if request.endpoint == "staff.login":
            return login_page(message, code)
    elif code == 429:
        message = t["too_many"].format(minutes=login_retry_minutes())
        if request.endpoint == "staff.login":
            return login_page(message, code)
    elif code == 403:
        message = t["forbidden"]
    else:
        message = t["error"]
    return render_staff("staff/error.html", code=code, message=message), code


def safe_next(target: str | None) -> str:
    """Where to go after login: only our own /staff pages (else the start page), or the login
    page would be an open redirect."""
    default = url_for("staff.home")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in target:
        return default
    return target


def login_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    """The login form, with ``error`` shown above it when there is one."""
    next_url = request.values.get("next", "")
    return (
        render_staff("staff/login.html", error=error, next_url=safe_next(next_url)),
        status,
    )


def forbidden_page() -> tuple[str, int]:
    """The 403 page for a signed-in member whose role may not open a page."""
    return render_staff(
        "staff/error.html", code=403, message=translated(TEXT, staff_language())["forbidden"]
    ), 403


def protect_form() -> None:
    """Refuse (400) a state-changing request without a valid CSRF token (Flask-WTF)."""
    if request.method not in _SAFE_METHODS:
        current_app.extensions["csrf"].protect()


def harden_page(response: Response) -> Response:
    """Headers of every staff page: they show personal data, so never cached nor framed,
    and they run only this site's scripts and the inline ones carrying the page's nonce."""
    set_policy(response)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def staff_blueprint(name: str, import_name: str, url_prefix: str, **options: Any) -> Blueprint:
    """A blueprint of staff pages: every answer hardened (:func:`harden_page`), and errors
    answered with the staff error page (:func:`error_page`)."""
    blueprint = Blueprint(
        name, import_name, url_prefix=url_prefix, template_folder="templates", **options
    )
    blueprint.after_request(harden_page)
    blueprint.register_error_handler(HTTPException, error_page)
    return blueprint


def staff_page_required(*roles: str) -> Callable[[Callable[P, Any]], Callable[P, Response]]:
    """Decorate a staff page (in any blueprint): login required (redirect to the login page),
    role checked (403 page; no roles: any staff), CSRF token checked on POST/PUT/PATCH/DELETE,
    and the page hardened (:func:`harden_page`)."""
    allowed = check_roles(roles)

    def decorator(func: Callable[P, Any]) -> Callable[P, Response]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            protect_form()
            staff = session_staff()
            if staff is None:
                end_staff_session()
                target = request.full_path.rstrip("?")
                return harden_page(make_response(redirect(url_for("staff.login", next=target))))
            if staff.role not in allowed:
                return harden_page(make_response(forbidden_page()))
            return harden_page(make_response(func(*args, **kwargs)))

        return wrapper

    return decorator
