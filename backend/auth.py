"""Who is asking: the request's staff identity.

Two ways in, never mixed:

- the staff **API** (``/api/v1/...``) takes only ``Authorization: Bearer <token>``. A browser
  never sends that header by itself, so the API needs no CSRF protection; accepting the
  session cookie there would make every API call forgeable from another site.
- the staff **pages** (``/staff/...``) take the session cookie set at login, and every form
  they post carries a CSRF token (Flask-WTF), checked by
  ``backend.staff.pages.staff_page_required`` and by the ``/staff`` blueprint.

Roles say which endpoints a person may call (:func:`roles_required`); which services' reports
they may see is an access rule of ``backend.services.access``. What a role may not see is
answered exactly like what does not exist (:func:`visible_or_404`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

from flask import Response, current_app, g, has_request_context, request
from flask import session as web_session

from backend.api.common import fail
from backend.extensions import db
from backend.models.staff import ROLES, StaffUser
from backend.services.staff import get_staff, staff_for_token

__all__ = [
    "LOGIN_FAILED",
    "NOT_FOUND_MESSAGE",
    "check_roles",
    "bearer_token",
    "current_staff",
    "end_staff_session",
    "login_account_key",
    "login_failed",
    "login_retry_minutes",
    "optional_staff",
    "roles_required",
    "session_staff",
    "start_staff_session",
    "visible_or_404",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

NOT_FOUND_MESSAGE = "Not found."


# --- the staff API: bearer tokens -----------------------------------------------------------


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer ...`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(message: str, error: str | None = None) -> NoReturn:
    challenge = 'Bearer realm="lanterne"' + (f', error="{error}"' if error else "")
    fail(401, message, headers={"WWW-Authenticate": challenge})


def _staff_from_bearer() -> StaffUser:
    token = bearer_token()
    if token is None:
        _unauthorized("A staff token is required: send 'Authorization: Bearer <token>'.")
    staff = staff_for_token(session=db.session, token=token)
    if staff is None:
        _unauthorized(
            "This token is not valid (unknown, revoked, or its account is disabled).",
            error="invalid_token",
        )
    _remember(staff)
    return staff


def check_roles(roles: tuple[str, ...]) -> frozenset[str]:
    """The roles a decorator allows (none named: every role); an unknown name is an error."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        # Raised at import time, so a typo in a role name cannot silently lock everyone out.
        raise ValueError(f"unknown role(s) {unknown}; the roles are {', '.join(ROLES)}")
    return frozenset(roles or ROLES)


def roles_required(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an API view (plain function or MethodView method) to require a staff token.

    Answers 401 (JSON, with ``WWW-Authenticate: Bearer``) without a valid token of an active
    account, and 403 when the account's role is not one of ``roles`` (no roles: any staff).
    Place it above ``@blp.arguments`` so that anonymous callers learn nothing about the
    input. The OpenAPI document shows the bearer security and the 401/403 answers.
    """
    allowed = check_roles(roles)

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            staff = _staff_from_bearer()
            if staff.role not in allowed:
                fail(403, f"The role {staff.role!r} may not do this.")
            return func(*args, **kwargs)

        # flask-smorest reads the docs from ``_apidoc``; ``wraps`` shared the dict, so copy it.
        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = [{"bearerAuth": []}]
        manual.setdefault("responses", {}).update({"401": "UNAUTHORIZED", "403": "FORBIDDEN"})
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        wrapper._staff_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


# --- the current staff member -------------------------------------------------------------


# Kept on the request itself rather than on ``g``: an app context can outlive one request
# (the test client reuses an outer one), an identity must not.
_STAFF_KEY = "lanterne.staff"


def _remember(staff: StaffUser | None) -> None:
    if staff is None:
        request.environ.pop(_STAFF_KEY, None)
    else:
        request.environ[_STAFF_KEY] = staff


def optional_staff() -> StaffUser | None:
    """The staff member authenticated for this request (token or page session), or None."""
    if not has_request_context():
        return None
    staff: StaffUser | None = request.environ.get(_STAFF_KEY)
    return staff


def _require_current() -> StaffUser:
    staff = optional_staff()
    if staff is None:
        fail(401, "Not authenticated as staff.")
    return staff


class _CurrentStaff:
    """``current_staff()`` returns the request's StaffUser; ``current_staff.email`` works too.

    Only views behind :func:`roles_required` or ``staff_page_required`` have one;
    elsewhere both forms answer 401.
    """

    def __call__(self) -> StaffUser:
        return _require_current()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            # Introspection (inspect, doctest, copy...) must get an AttributeError, not a 401.
            raise AttributeError(name)
        return getattr(_require_current(), name)

    def __bool__(self) -> bool:
        return optional_staff() is not None

    def __repr__(self) -> str:
        staff = optional_staff()
        return f"<current_staff {staff.email if staff else None}>"


current_staff = _CurrentStaff()


# --- what a role may not see ---------------------------------------------------------------


def visible_or_404(
    obj: T | None,
    visible: bool | Callable[[T], bool] = True,
    *,
    message: str = NOT_FOUND_MESSAGE,
) -> T:
    """Return ``obj``, or answer 404 with ``message`` when it is missing OR not visible.

    Both cases give the same status, body and headers, so an id a role may not see cannot
    be told from an id that does not exist. Pass the same ``message`` you use for a missing
    object::

        report = visible_or_404(
            session.get(Report, report_id),
            lambda r: can_see_service(staff, r.service_code, session),
            message="No report has this id.",
        )
    """
    if obj is None:
        fail(404, message)
    allowed = visible(obj) if callable(visible) else visible
    if not allowed:
        fail(404, message)
    return obj


# --- staff pages: session cookie + CSRF ----------------------------------------------------


def _password_mark(staff: StaffUser) -> str:
    # A fingerprint of the password hash, kept in the session: a new password (or a disabled
    # account) ends the sessions opened before it. Not secret: the cookie is signed.
    return hashlib.sha256((staff.password_hash or "").encode()).hexdigest()[:16]


def _reset_web_session() -> None:
    web_session.clear()
    # Flask-WTF caches the signed CSRF token on ``g``; its raw half was in the old session.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def start_staff_session(staff: StaffUser) -> None:
    """Log ``staff`` in to the pages: a fresh session (no fixation) holding their id."""
    _reset_web_session()
    web_session["staff_id"] = staff.id
    web_session["staff_pw"] = _password_mark(staff)
    web_session["staff_at"] = int(time.time())
    _remember(staff)


def end_staff_session() -> None:
    """Log out of the pages."""
    _reset_web_session()
    _remember(None)


def session_staff() -> StaffUser | None:
    """The active account of the page session, or None (disabled, expired, password changed)."""
    staff_id = web_session.get("staff_id")
    if not isinstance(staff_id, int):
        return None
    max_age = float(current_app.config["STAFF_SESSION_HOURS"]) * 3600
    if time.time() - float(web_session.get("staff_at", 0)) > max_age:
        return None
    staff = get_staff(session=db.session, staff_id=staff_id)
    if staff is None or not staff.active or web_session.get("staff_pw") != _password_mark(staff):
        return None
    _remember(staff)
    return staff


# --- login limits ---------------------------------------------------------------------------

#: Set on the request by the login view when the credentials were refused.
LOGIN_FAILED = "lanterne.login_failed"


def login_account_key() -> str:
    """The rate-limit key of the account a login form names, known or not.

    The e-mail is normalised like ``get_staff_by_email`` does (trimmed, lower case), so
    "Agent@Ville.fr " and "agent@ville.fr" share one counter; it is stored as a keyed hash
    (HMAC with the app's secret key), so Redis never holds the addresses people typed.
    """
    email = (request.form.get("email") or "").strip().lower()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()[:32]
    return f"login-account:{digest}"


def login_failed(_response: Response) -> bool:
    """Whether this login request was refused for its credentials (Flask-Limiter's
    ``deduct_when``: only failures count against the account)."""
    return bool(request.environ.get(LOGIN_FAILED))


def login_retry_minutes() -> int:
    """Minutes until the rate limit this request broke lets it through again, to the nearest
    minute (at least 1; the storage's reset time can be a second or so past the window)."""
    from backend.extensions import limiter

    current = limiter.current_limit
    if current is None:
        return 1
    return max(1, round((current.reset_at - time.time()) / 60))
