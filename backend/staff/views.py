"""The ``/staff`` pages: login, logout and a landing page saying what the role can do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlmodel import col, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import (
    LOGIN_FAILED,
    current_staff,
    end_staff_session,
    harden_page,
    login_account_key,
    login_failed,
    login_retry_minutes,
    optional_staff,
    protect_form,
    session_staff,
    staff_page_required,
    start_staff_session,
)
from backend.csp import csp_nonce
from backend.extensions import db, limiter
from backend.models import Service
from backend.services import audit
from backend.services.staff import InvalidCredentialsError, authenticate

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

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

ROLE_CAPABILITIES: dict[str, dict[str, list[str]]] = {
    "fr": {
        "agent": [
            "Traiter la file des signalements de vos services : catégorie, statut, note publique.",
            "Corriger une catégorie (cela entraîne le classifieur) et fusionner les doublons.",
            "Lire les coordonnées d'un signaleur quand il faut le recontacter "
            "(chaque lecture est journalisée).",
            "Consulter les signaux faibles de vos services.",
        ],
        "supervisor": [
            "Tout ce que peut un agent, pour toutes les files de votre direction.",
            "Réaffecter un signalement à un autre service.",
            "Suivre les délais de traitement de votre direction.",
        ],
        "analyst": [
            "Consulter et qualifier les signaux faibles "
            "(nouveau, pris en compte, écarté, confirmé).",
            "Étudier les événements et les indicateurs par quartier.",
            "Jamais de coordonnées de signaleurs.",
        ],
        "admin": [
            "Créer et désactiver les comptes du personnel, délivrer et révoquer leurs jetons.",
            "Gérer le catalogue des services.",
            "Gérer les clés d'API Open311.",
            "Consulter le journal d'audit.",
        ],
    },
    "en": {
        "agent": [
            "Work the report queue of your services: category, status, public note.",
            "Fix a category (this teaches the classifier) and merge duplicates.",
            "Read a reporter's contact details when you need to reach them (every read is logged).",
            "Review the weak signals of your services.",
        ],
        "supervisor": [
            "Everything an agent can do, for every queue of your department.",
            "Reassign a report to another service.",
            "Follow your department's time to fix.",
        ],
        "analyst": [
            "Review and qualify weak signals (new, acknowledged, dismissed, confirmed).",
            "Study events and neighbourhood indicators.",
            "Never any reporter's contact details.",
        ],
        "admin": [
            "Create and disable staff accounts, issue and revoke their tokens.",
            "Manage the service catalogue.",
            "Manage Open311 API keys.",
            "Read the audit log.",
        ],
    },
}


def staff_language() -> str:
    """The language of a staff page: ``?lang=``, then Accept-Language; French first."""
    return _lang()


def _lang() -> str:
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
    lang = _lang()
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


@bp.before_request
def _check_csrf() -> None:
    # Every form of this blueprint (the login form included: login CSRF would log a victim
    # into the attacker's account) carries the token.
    protect_form()


@bp.after_request
def _harden(response: Response) -> Response:
    # The login and error pages too, not only those behind staff_page_required.
    return harden_page(response)


@bp.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> tuple[str, int]:
    # The API's JSON errors would be unreadable here: staff pages answer with pages.
    code = error.code or 500
    t = TEXT[_lang()]
    if isinstance(error, CSRFError):
        message = t["expired_form"]
        if request.endpoint == "staff.login":
            return _login_page(message, code)
    elif code == 429:
        message = t["too_many"].format(minutes=login_retry_minutes())
        if request.endpoint == "staff.login":
            return _login_page(message, code)
    elif code == 403:
        message = t["forbidden"]
    else:
        message = t["error"]
    return render_staff("staff/error.html", code=code, message=message), code


def _safe_next(target: str | None) -> str:
    # Only our own /staff pages: anything else would make the login page an open redirect.
    default = url_for("staff.home")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in target:
        return default
    return target


def _login_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    next_url = request.values.get("next", "")
    return (
        render_staff("staff/login.html", error=error, next_url=_safe_next(next_url)),
        status,
    )


def _login_limit() -> str:
    return str(current_app.config.get("STAFF_LOGIN_RATE_LIMIT") or "10 per minute")


def _account_limit() -> str:
    return str(current_app.config.get("STAFF_LOGIN_ACCOUNT_RATE_LIMIT") or "10 per 15 minutes")


@bp.route("/login", methods=["GET", "POST"])
# Two limits: every POST from one address, and the failed logins of one account (the e-mail
# typed, whether an account has it or not, so a 429 tells nothing), which many addresses
# guessing one password cannot share out. Once the account's limit is reached even the right
# password is refused until the window ends: a success would tell the guesser it was right.
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(
    _account_limit, methods=["POST"], key_func=login_account_key, deduct_when=login_failed
)
def login() -> tuple[str, int] | BaseResponse:
    """The login form; a successful POST opens a session and goes to ``next`` or the start."""
    if request.method == "GET":
        if session_staff() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return _login_page()
    try:
        staff = authenticate(
            session=db.session,
            email=request.form.get("email", ""),
            password=request.form.get("password", ""),
            remote_addr=request.remote_addr,
        )
    except InvalidCredentialsError:
        request.environ[LOGIN_FAILED] = True
        return _login_page(TEXT[_lang()]["bad_login"], 200)
    start_staff_session(staff)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    """End the session (a POST with its CSRF token, so no other site can log staff out)."""
    staff = session_staff()
    if staff is not None:
        audit.record(
            session=db.session,
            actor=staff,
            action="staff.logout",
            target=f"staff:{staff.id}",
        )
        db.session.commit()
    end_staff_session()
    return redirect(url_for("staff.login"))


@bp.route("/")
@staff_page_required()
def home() -> str:
    """The landing page: who you are and what your role lets you do."""
    staff = current_staff()
    lang = _lang()
    services: list[Service] = []
    if staff.service_codes:
        services = list(
            db.session.exec(
                select(Service)
                .where(col(Service.code).in_(staff.service_codes))
                .order_by(col(Service.sort_order))
            )
        )
    return render_staff(
        "staff/home.html",
        staff=staff,
        services=[s.name(lang) for s in services],
        capabilities=ROLE_CAPABILITIES[lang][staff.role],
        pages=_pages(staff.role, lang),
    )


# The pages of each role (each page checks the role itself): endpoint, text key.
ROLE_PAGES: dict[str, list[tuple[str, str]]] = {
    "agent": [("staff_triage.queue", "triage_page")],
    "supervisor": [("staff_triage.queue", "triage_page")],
    "analyst": [("staff_signals.index", "signals_page")],
    "admin": [("staff_signals.index", "signals_page")],
}


def _pages(role: str, lang: str) -> list[tuple[str, str]]:
    """(label, URL) of the pages the role may open, in the page's language."""
    query: dict[str, Any] = {}
    if request.args.get("lang") in ("fr", "en"):
        query["lang"] = request.args["lang"]
    return [
        (TEXT[lang][key], url_for(endpoint, **query))
        for endpoint, key in ROLE_PAGES.get(role, [])
        if endpoint.split(".")[0] in current_app.blueprints
    ]


def forbidden_page() -> tuple[str, int]:
    """The 403 page for a signed-in member whose role may not open a page."""
    return render_staff("staff/error.html", code=403, message=TEXT[_lang()]["forbidden"]), 403
