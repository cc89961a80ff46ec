"""The ``/staff`` pages: login, logout and a landing page saying what the role can do."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request, url_for
from sqlmodel import col, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import (
    LOGIN_FAILED,
    current_staff,
    end_staff_session,
    login_account_key,
    login_failed,
    session_staff,
    start_staff_session,
)
from backend.extensions import db, limiter
from backend.models import Service
from backend.services import audit
from backend.services.staff import InvalidCredentialsError, authenticate
from backend.staff.pages import (
    N_,
    TEXT,
    error_page,
    harden_page,
    login_page,
    pages_for,
    protect_form,
    render_staff,
    safe_next,
    staff_language,
    staff_page_required,
    translated,
    translated_list,
)

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

# What each role can do, each tied to the page that does it (None: part of a page that is
# always there): a capability whose page does not exist in this app is not promised.
ROLE_CAPABILITIES: dict[str, list[tuple[str, str | None]]] = {
    "agent": [
        (
            N_("Work your queue: my work, my team, overdue; assign, set statuses in bulk."),
            "staff_triage.queue",
        ),
        (N_("Fix a category (this teaches the classifier)."), "staff_triage.queue"),
        (N_("Merge duplicates."), "staff_casework.merge"),
        (
            N_(
                "Read a reporter's contact details when you need to reach them "
                "(every read is logged)."
            ),
            "staff_triage.queue",
        ),
    ],
    "supervisor": [
        (
            N_("Everything an agent can do, for every queue of your department."),
            "staff_triage.queue",
        ),
        (N_("Reassign a report to another team or person, with a reason."), "staff_triage.queue"),
        (N_("Follow your teams' punctuality and the overdue reports."), "staff_triage.punctuality"),
    ],
    "analyst": [
        (
            N_("Review and qualify weak signals (new, acknowledged, dismissed, confirmed)."),
            "staff_signals.index",
        ),
        (N_("Study events and neighbourhood indicators."), "staff_events.index"),
        (N_("Never any reporter's contact details."), None),
    ],
    "admin": [
        (
            N_("Create and disable staff accounts, set their role, team and services."),
            "staff_admin.accounts",
        ),
        (N_("Manage the service catalogue."), "staff_admin.services"),
        (N_("Manage Open311 API keys."), "staff_admin.api_keys"),
        (N_("Edit the routing rules."), "staff_admin.routing"),
        (N_("Read the audit log."), "staff_admin.audit_log"),
    ],
}


def _capabilities(role: str, lang: str) -> list[str]:
    kept = [
        text
        for text, endpoint in ROLE_CAPABILITIES.get(role, [])
        if endpoint is None or endpoint in current_app.view_functions
    ]
    return translated_list(kept, lang)


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
    return error_page(error)


def _login_limit() -> str:
    return str(current_app.config["STAFF_LOGIN_RATE_LIMIT"])


def _account_limit() -> str:
    return str(current_app.config["STAFF_LOGIN_ACCOUNT_RATE_LIMIT"])


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
            return redirect(safe_next(request.args.get("next")))
        return login_page()
    try:
        staff = authenticate(
            session=db.session,
            email=request.form.get("email", ""),
            password=request.form.get("password", ""),
            remote_addr=request.remote_addr,
        )
    except InvalidCredentialsError:
        request.environ[LOGIN_FAILED] = True
        return login_page(translated(TEXT, staff_language())["bad_login"], 200)
    start_staff_session(staff)
    return redirect(safe_next(request.form.get("next")))


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
    lang = staff_language()
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
        capabilities=_capabilities(staff.role, lang),
        pages=pages_for(staff.role, lang),
    )
