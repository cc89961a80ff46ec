"""What every staff page shares, in any blueprint: the layout and its language strings, the
login and role check with CSRF (:func:`staff_page_required`), the hardened headers, the
error and login pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from flask import Response, current_app, make_response, redirect, render_template, request, url_for
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

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Espace agents",
        "login": "Connexion",
        "email": "Adresse e-mail",
        "password": "Mot de passe",
        "submit": "Se connecter",
        "logout": "Se déconnecter",
        "bad_login": "Adresse e-mail ou mot de passe incorrect.",
        "expired_form": "Le formulaire a expiré ; veuillez réessayer.",
        "too_many": "Trop de tentatives. Réessayez dans {minutes} min.",
        "forbidden": "Votre rôle ne donne pas accès à cette page.",
        "error": "Une erreur est survenue.",
        "welcome": "Bienvenue",
        "role": "Rôle",
        "department": "Direction",
        "services": "Services",
        "none": "aucun",
        "can_do": "Ce que votre rôle permet",
        "api": "API du personnel",
        "api_help": (
            "Les outils et scripts utilisent un jeton (en-tête Authorization: Bearer), "
            "délivré par un administrateur avec « lanterne staff token »."
        ),
        "docs": "Documentation de l'API",
        "back": "Retour à l'accueil",
        "other_lang": "English",
        "pages": "Vos pages",
        "triage_page": "File de tri : les signalements de vos services, les plus urgents d'abord",
        "signals_page": "Signaux faibles : carte et tableau",
    },
    "en": {
        "title": "Staff area",
        "login": "Log in",
        "email": "E-mail address",
        "password": "Password",
        "submit": "Log in",
        "logout": "Log out",
        "bad_login": "Wrong e-mail address or password.",
        "expired_form": "The form expired; please try again.",
        "too_many": "Too many attempts. Try again in {minutes} min.",
        "forbidden": "Your role does not give access to this page.",
        "error": "Something went wrong.",
        "welcome": "Welcome",
        "role": "Role",
        "department": "Department",
        "services": "Services",
        "none": "none",
        "can_do": "What your role can do",
        "api": "Staff API",
        "api_help": (
            "Tools and scripts use a token (Authorization: Bearer header), issued by an "
            "administrator with 'lanterne staff token'."
        ),
        "docs": "API documentation",
        "back": "Back to the start page",
        "other_lang": "Français",
        "pages": "Your pages",
        "triage_page": "Triage queue: the reports of your services, most urgent first",
        "signals_page": "Weak signals: map and table",
    },
}

ROLE_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "agent": "Agent",
        "supervisor": "Responsable de direction",
        "analyst": "Analyste",
        "admin": "Administrateur",
    },
    "en": {"agent": "Agent", "supervisor": "Supervisor", "analyst": "Analyst", "admin": "Admin"},
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
        t=TEXT[lang],
        role_names=ROLE_NAMES[lang],
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
    t = TEXT[staff_language()]
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
        "staff/error.html", code=403, message=TEXT[staff_language()]["forbidden"]
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
