"""The admin pages (``/staff/admin/...``): accounts and roles, teams, Open311 API keys, the
service catalogue, routing rules, and the audit log (read-only).

Admins only: anyone else gets the page of a missing one (404), as for ids a role may not see.
Every change goes through the services the CLI uses (``backend.services.staff``,
``apikeys``, ``catalogue``, ``assignment``), which write the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from flask import Response, redirect, request, url_for
from sqlmodel import col, func, select
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import current_staff
from backend.extensions import db
from backend.models import AuditLog, Service, StaffUser
from backend.models.staff import ROLES, Role
from backend.services import apikeys, assignment, catalogue
from backend.services import staff as staff_service
from backend.staff.admin_text import ERRORS, TEXT
from backend.staff.pages import (
    render_staff,
    staff_blueprint,
    staff_language,
    staff_page_required,
    translated,
)

P = ParamSpec("P")

bp = staff_blueprint("staff_admin", __name__, url_prefix="/staff/admin")

AUDIT_PAGE_SIZE = 50


def admin_page(func: Callable[P, Any]) -> Callable[P, Response]:
    """Login, CSRF and hardening (``staff_page_required``); not an admin: the 404 page."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        if current_staff().role != Role.ADMIN:
            message = translated(ERRORS, staff_language())["not_found"]
            return render_staff("staff/error.html", code=404, message=message), 404
        return func(*args, **kwargs)

    return staff_page_required()(wrapper)


def _lang_args() -> dict[str, Any]:
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("fr", "en") else {}


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    lang = staff_language()
    return (
        render_staff(
            template,
            tr=translated(TEXT, lang),
            lang_args=_lang_args(),
            saved=request.args.get("saved"),
            **context,
        ),
        status,
    )


def _error_text(exc: Exception) -> str:
    return str(exc)


def _departments() -> list[str]:
    return sorted(set(db.session.exec(select(Service.department).distinct())))


# --- accounts -------------------------------------------------------------------------------


def _accounts_page(
    *, error: str | None = None, created: tuple[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    lang = staff_language()
    return _render(
        "staff/admin_accounts.html",
        status=status,
        accounts=staff_service.list_staff(session=db.session),
        roles=list(ROLES),
        teams=[(t.code, t.name) for t in assignment.list_teams(session=db.session)],
        services=[(s.code, s.name(lang)) for s in catalogue.list_services(session=db.session)],
        departments=_departments(),
        error=error,
        created=created,
    )


@bp.route("/accounts", methods=["GET", "POST"])
@admin_page
def accounts() -> tuple[str, int]:
    """The accounts with their role, team and services; a form to create one."""
    if request.method == "GET":
        return _accounts_page()
    password = request.form.get("password") or None
    generated = password is None
    if generated:
        password = staff_service.generate_password()
    try:
        created = staff_service.create_staff(
            session=db.session,
            email=request.form.get("email", ""),
            role=request.form.get("role", ""),
            password=password,
            service_codes=request.form.getlist("service_codes"),
            department=request.form.get("department") or None,
            team_code=request.form.get("team_code") or None,
            actor=current_staff(),
        )
    except staff_service.StaffError as exc:
        db.session.rollback()
        return _accounts_page(error=_error_text(exc), status=422)
    except catalogue.UnknownServiceError as exc:
        db.session.rollback()
        return _accounts_page(error=_error_text(exc), status=422)
    # The password is shown this once, only when the site chose it.
    shown = (created.email, password) if generated and password else (created.email, "")
    return _accounts_page(created=shown, status=201)


@bp.route("/accounts/<dbint:staff_id>", methods=["GET", "POST"])
@admin_page
def account(staff_id: int) -> BaseResponse | tuple[str, int]:
    """Set an account's role, team, services and department, or disable / enable it."""
    if request.method == "GET":
        return redirect(url_for("staff_admin.accounts", **_lang_args()))
    member = db.session.get(StaffUser, staff_id)
    if member is None:
        return _accounts_page(error=translated(ERRORS, staff_language())["no_account"], status=404)
    actor = current_staff()
    try:
        action = request.form.get("action", "update")
        if action == "disable":
            if member.id == actor.id:
                return _accounts_page(
                    error=translated(ERRORS, staff_language())["not_yourself"], status=422
                )
            staff_service.disable_staff(session=db.session, email=member.email, actor=actor)
        elif action == "enable":
            staff_service.enable_staff(session=db.session, email=member.email, actor=actor)
        else:
            staff_service.update_staff(
                session=db.session,
                staff=member,
                role=request.form.get("role", ""),
                team_code=request.form.get("team_code") or None,
                service_codes=request.form.getlist("service_codes"),
                department=request.form.get("department") or None,
                actor=actor,
            )
    except (staff_service.StaffError, catalogue.UnknownServiceError) as exc:
        db.session.rollback()
        return _accounts_page(error=_error_text(exc), status=422)
    return redirect(url_for("staff_admin.accounts", saved="account", **_lang_args()))


# --- teams ----------------------------------------------------------------------------------


def _teams_page(*, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return _render(
        "staff/admin_teams.html",
        status=status,
        teams=assignment.list_teams(session=db.session, active_only=False),
        departments=_departments(),
        error=error,
    )


@bp.route("/teams", methods=["GET", "POST"])
@admin_page
def teams() -> BaseResponse | tuple[str, int]:
    """The teams; a form to add one; retire or restore a team."""
    if request.method == "GET":
        return _teams_page()
    try:
        code = request.form.get("code", "")
        if request.form.get("action") in ("disable", "enable"):
            assignment.set_team_active(
                session=db.session,
                code=code,
                active=request.form["action"] == "enable",
                actor=current_staff(),
            )
        else:
            assignment.create_team(
                session=db.session,
                code=code,
                name=request.form.get("name", ""),
                department=request.form.get("department", ""),
                actor=current_staff(),
            )
    except assignment.AssignmentError as exc:
        db.session.rollback()
        return _teams_page(error=str(exc), status=422)
    return redirect(url_for("staff_admin.teams", saved="team", **_lang_args()))


# --- API keys -------------------------------------------------------------------------------


def _keys_page(
    *, error: str | None = None, created: tuple[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    return _render(
        "staff/admin_keys.html",
        status=status,
        keys=apikeys.list_keys(session=db.session),
        error=error,
        created=created,
        default_rate=apikeys.DEFAULT_RATE_LIMIT,
    )


@bp.route("/api-keys", methods=["GET", "POST"])
@admin_page
def api_keys() -> BaseResponse | tuple[str, int]:
    """The Open311 keys (prefix only); create one (shown once) or revoke one."""
    if request.method == "GET":
        return _keys_page()
    try:
        if request.form.get("action") == "revoke":
            apikeys.revoke_key(
                session=db.session, name=request.form.get("name", ""), actor=current_staff()
            )
            return redirect(url_for("staff_admin.api_keys", saved="revoked", **_lang_args()))
        key, plain = apikeys.create_key(
            session=db.session,
            name=request.form.get("name", ""),
            rate_limit=request.form.get("rate_limit") or apikeys.DEFAULT_RATE_LIMIT,
            can_post_updates=request.form.get("can_post_updates") == "1",
            actor=current_staff(),
        )
    except apikeys.ApiKeyError as exc:
        db.session.rollback()
        return _keys_page(error=str(exc), status=422)
    return _keys_page(created=(key.name, plain), status=201)


# --- service catalogue ----------------------------------------------------------------------


def _services_page(*, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return _render(
        "staff/admin_services.html",
        status=status,
        services=catalogue.list_services(session=db.session, include_inactive=True),
        error=error,
    )


@bp.route("/services", methods=["GET", "POST"])
@admin_page
def services() -> BaseResponse | tuple[str, int]:
    """The catalogue: names FR/EN, target days, working days or not, department, active."""
    if request.method == "GET":
        return _services_page()
    try:
        catalogue.update_service(
            session=db.session,
            code=request.form.get("code", ""),
            name_fr=request.form.get("name_fr", ""),
            name_en=request.form.get("name_en", ""),
            target_days=int(request.form.get("target_days", "")),
            working_days=request.form.get("working_days") == "1",
            department=request.form.get("department", ""),
            active=request.form.get("active") == "1",
            actor=current_staff(),
        )
    except ValueError as exc:  # CatalogueError, or target days that are not a number
        db.session.rollback()
        message = str(exc) if isinstance(exc, catalogue.CatalogueError) else None
        return _services_page(
            error=message or translated(ERRORS, staff_language())["target_days"], status=422
        )
    return redirect(url_for("staff_admin.services", saved="service", **_lang_args()))


# --- routing rules --------------------------------------------------------------------------


def _routing_page(*, error: str | None = None, status: int = 200) -> tuple[str, int]:
    lang = staff_language()
    every = catalogue.list_services(session=db.session, include_inactive=True)
    return _render(
        "staff/admin_routing.html",
        status=status,
        rules=assignment.list_rules(session=db.session),
        services=[(s.code, s.name(lang)) for s in every],
        service_names={s.code: s.name(lang) for s in every},
        teams=[(t.code, t.name) for t in assignment.list_teams(session=db.session)],
        error=error,
    )


@bp.route("/routing", methods=["GET", "POST"])
@admin_page
def routing() -> BaseResponse | tuple[str, int]:
    """The routing rules (service, area prefix, team, priority): add one, delete one."""
    if request.method == "GET":
        return _routing_page()
    try:
        if request.form.get("action") == "delete":
            assignment.delete_rule(
                session=db.session,
                rule_id=int(request.form.get("rule_id", "0") or 0),
                actor=current_staff(),
            )
        else:
            assignment.add_rule(
                session=db.session,
                service_code=request.form.get("service_code", ""),
                area_prefix=request.form.get("area_prefix"),
                team_code=request.form.get("team_code", ""),
                priority=int(request.form.get("priority") or 0),
                actor=current_staff(),
            )
    except (assignment.AssignmentError, ValueError) as exc:
        db.session.rollback()
        return _routing_page(error=str(exc), status=422)
    return redirect(url_for("staff_admin.routing", saved="rule", **_lang_args()))


# --- audit log ------------------------------------------------------------------------------


@bp.route("/audit")
@admin_page
def audit_log() -> tuple[str, int]:
    """The audit log, newest first, read-only: filters by action, actor, target; paginated."""
    filters = {
        key: (request.args.get(key) or "").strip()[:200] for key in ("action", "actor", "target")
    }
    query = select(AuditLog)
    if filters["action"]:
        query = query.where(col(AuditLog.action).startswith(filters["action"]))
    if filters["actor"]:
        query = query.where(AuditLog.actor == filters["actor"].lower())
    if filters["target"]:
        query = query.where(AuditLog.target == filters["target"])
    total = db.session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    rows = db.session.exec(
        query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE)
    ).all()
    kept = {k: v for k, v in filters.items() if v} | _lang_args()
    return _render(
        "staff/admin_audit.html",
        rows=rows,
        total=total,
        filters=filters,
        page=page,
        pages=pages,
        previous_url=url_for("staff_admin.audit_log", **kept, page=page - 1) if page > 1 else None,
        next_url=url_for("staff_admin.audit_log", **kept, page=page + 1) if page < pages else None,
    )
