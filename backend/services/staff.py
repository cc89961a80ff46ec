"""Staff accounts: creation, passwords (argon2), bearer tokens, login, disabling.

Every function commits its own transaction together with its audit row, like the other
services; the audit log is written by :mod:`backend.services.audit`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Service, Team
from backend.models.staff import ROLES, Role, StaffToken, StaffUser
from backend.services import audit
from backend.services.audit import Actor
from backend.services.catalogue import UnknownServiceError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "TOKEN_PREFIX",
    "DuplicateEmailError",
    "InvalidCredentialsError",
    "InvalidEmailError",
    "Role",
    "StaffError",
    "StaffNotFoundError",
    "UnknownDepartmentError",
    "UnknownRoleError",
    "WeakPasswordError",
    "authenticate",
    "create_staff",
    "disable_staff",
    "enable_staff",
    "generate_password",
    "get_staff",
    "get_staff_by_email",
    "hash_password",
    "hash_token",
    "issue_token",
    "list_staff",
    "list_tokens",
    "normalise_email",
    "PasswordSettings",
    "password_hasher",
    "revoke_tokens",
    "set_password",
    "staff_for_token",
]

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "lnt_"  # noqa: S105 (a marker that makes leaked tokens easy to scan for)
# Writing last_used_at on every request would turn each API call into a write; once a
# minute is precise enough to see which tokens are still in use.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class StaffError(ValueError):
    """A staff-account operation that cannot be done; the message says why."""


class DuplicateEmailError(StaffError):
    """An account with this e-mail already exists."""


class UnknownRoleError(StaffError):
    """A role that is not one of agent, supervisor, analyst, admin."""


class UnknownDepartmentError(StaffError):
    """A department that no service of the catalogue belongs to."""


class InvalidEmailError(StaffError):
    """Not an e-mail address."""


class WeakPasswordError(StaffError):
    """A password too short to be accepted."""


class StaffNotFoundError(StaffError):
    """No account has this e-mail."""


class InvalidCredentialsError(StaffError):
    """Wrong e-mail or password, or an account that cannot log in (never saying which)."""


# --- passwords ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordSettings:
    """argon2id's costs; None keeps argon2-cffi's default."""

    time_cost: int | None = None
    memory_cost: int | None = None  # KiB
    parallelism: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PasswordSettings:
        """The ``ARGON2_*`` settings of an app's config (``LANTERNE_ARGON2_*``)."""

        def cost(key: str) -> int | None:
            value = config.get(key)
            return int(value) if value is not None else None

        return cls(
            time_cost=cost("ARGON2_TIME_COST"),
            memory_cost=cost("ARGON2_MEMORY_COST"),
            parallelism=cost("ARGON2_PARALLELISM"),
        )


@lru_cache(maxsize=8)
def _hasher(
    time_cost: int | None, memory_cost: int | None, parallelism: int | None
) -> PasswordHasher:
    defaults = PasswordHasher()
    return PasswordHasher(
        time_cost=time_cost or defaults.time_cost,
        memory_cost=memory_cost or defaults.memory_cost,
        parallelism=parallelism or defaults.parallelism,
    )


def password_hasher() -> PasswordHasher:
    """The argon2id hasher: argon2-cffi's defaults unless the app's config sets
    ``ARGON2_TIME_COST``, ``ARGON2_MEMORY_COST`` (KiB) or ``ARGON2_PARALLELISM`` (from the
    environment as ``LANTERNE_ARGON2_...``); tests lower them to stay fast."""
    settings = PasswordSettings.from_config(current_app.config) if has_app_context() else None
    settings = settings or PasswordSettings()
    return _hasher(settings.time_cost, settings.memory_cost, settings.parallelism)


@lru_cache(maxsize=8)
def _dummy_hash(hasher: PasswordHasher) -> str:
    # A hash of nothing anyone knows, with the current parameters, verified when the account
    # does not exist so that a wrong e-mail takes as long as a wrong password.
    return hasher.hash(secrets.token_urlsafe(32))


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salt and parameters included); refuses short ones."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters ({len(password)} given)."
        )
    return password_hasher().hash(password)


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


# --- accounts -----------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """The e-mail as stored: trimmed and lower-cased; raises InvalidEmailError if malformed."""
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidEmailError(f"{email!r} is not an e-mail address.")
    return value


def get_staff_by_email(*, session: Session, email: str) -> StaffUser | None:
    """The account with this e-mail (any case), or None."""
    value = email.strip().lower()
    return session.exec(select(StaffUser).where(StaffUser.email == value)).first()


def get_staff(*, session: Session, staff_id: int) -> StaffUser | None:
    """The account with this id, or None."""
    return session.get(StaffUser, staff_id)


def _require_staff(session: Session, email: str) -> StaffUser:
    staff = get_staff_by_email(session=session, email=email)
    if staff is None:
        raise StaffNotFoundError(f"No staff account has the e-mail {email.strip().lower()!r}.")
    return staff


def list_staff(*, session: Session, include_inactive: bool = True) -> list[StaffUser]:
    """Every account, by e-mail."""
    query = select(StaffUser).order_by(col(StaffUser.email))
    if not include_inactive:
        query = query.where(col(StaffUser.active).is_(True))
    return list(session.exec(query))


def _check_scope(session: Session, service_codes: list[str], department: str | None) -> None:
    if service_codes:
        known = set(session.exec(select(Service.code).where(col(Service.code).in_(service_codes))))
        unknown = sorted(set(service_codes) - known)
        if unknown:
            raise UnknownServiceError(
                f"Unknown service code(s): {', '.join(unknown)}. "
                "See GET /api/v1/services for the catalogue."
            )
    if department is not None:
        departments = set(session.exec(select(Service.department).distinct()))
        if department not in departments:
            raise UnknownDepartmentError(
                f"Unknown department {department!r}; the catalogue has: "
                f"{', '.join(sorted(departments)) or 'none'}."
            )


class UnknownTeamError(StaffError):
    """A team code that is not in the ``team`` table."""


def _check_team(session: Session, team_code: str | None) -> None:
    if team_code and session.get(Team, team_code) is None:
        raise UnknownTeamError(f"Unknown team {team_code!r}.")


def update_staff(
    *,
    session: Session,
    staff: StaffUser,
    role: str,
    team_code: str | None,
    service_codes: Iterable[str],
    department: str | None,
    actor: Actor,
) -> StaffUser:
    """Set an account's role, team, services and department; commits with ``staff.updated``
    (before and after) in the audit log."""
    if role not in ROLES:
        raise UnknownRoleError(f"Unknown role {role!r}; the roles are: {', '.join(ROLES)}.")
    codes = list(dict.fromkeys(code.strip() for code in service_codes if code.strip()))
    department = department.strip() if department and department.strip() else None
    team_code = team_code or None
    _check_scope(session, codes, department)
    _check_team(session, team_code)
    before = {
        "role": staff.role,
        "team_code": staff.team_code,
        "service_codes": list(staff.service_codes or []),
        "department": staff.department,
    }
    staff.role, staff.team_code, staff.service_codes, staff.department = (
        role,
        team_code,
        codes,
        department,
    )
    session.add(staff)
    audit.record(
        session=session,
        actor=actor,
        action="staff.updated",
        target=f"staff:{staff.id}",
        details={
            "before": before,
            "after": {
                "role": role,
                "team_code": team_code,
                "service_codes": codes,
                "department": department,
            },
        },
    )
    session.commit()
    return staff


def create_staff(
    *,
    session: Session,
    email: str,
    role: str,
    password: str | None = None,
    service_codes: Iterable[str] = (),
    department: str | None = None,
    team_code: str | None = None,
    actor: Actor = "cli",
) -> StaffUser:
    """Create an account and commit it with its audit row.

    Without a password the account can only use API tokens (no web login). Agents see the
    queues of their ``service_codes``, supervisors those of their ``department`` (and of any
    listed service); both see nothing until given one.
    """
    address = normalise_email(email)
    if role not in ROLES:
        raise UnknownRoleError(f"Unknown role {role!r}; the roles are: {', '.join(ROLES)}.")
    codes = list(dict.fromkeys(code.strip() for code in service_codes if code.strip()))
    department = department.strip() if department and department.strip() else None
    _check_scope(session, codes, department)
    _check_team(session, team_code)
    if get_staff_by_email(session=session, email=address) is not None:
        raise DuplicateEmailError(f"A staff account with the e-mail {address!r} already exists.")
    staff = StaffUser(
        email=address,
        role=role,
        department=department,
        service_codes=codes,
        team_code=team_code or None,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(staff)
    try:
        session.flush()
    except IntegrityError as exc:  # created meanwhile by another process
        session.rollback()
        raise DuplicateEmailError(
            f"A staff account with the e-mail {address!r} already exists."
        ) from exc
    audit.record(
        session=session,
        actor=actor,
        action="staff.created",
        target=f"staff:{staff.id}",
        details={
            "email": address,
            "role": role,
            "department": department,
            "service_codes": codes,
            "team_code": team_code or None,
            "password": password is not None,
        },
    )
    session.commit()
    return staff


def set_password(
    *, session: Session, staff: StaffUser, password: str, actor: Actor = "cli"
) -> StaffUser:
    """Replace an account's password (which also ends its web sessions) and commit."""
    staff.password_hash = hash_password(password)
    session.add(staff)
    audit.record(session=session, actor=actor, action="staff.password_set", target=_t(staff))
    session.commit()
    return staff


def disable_staff(*, session: Session, email: str, actor: Actor = "cli") -> StaffUser:
    """Disable an account and revoke its tokens; its web sessions end at their next request."""
    staff = _require_staff(session, email)
    staff.active = False
    session.add(staff)
    revoked = _revoke(session, staff, name=None)
    audit.record(
        session=session,
        actor=actor,
        action="staff.disabled",
        target=_t(staff),
        details={"tokens_revoked": revoked},
    )
    session.commit()
    return staff


def enable_staff(*, session: Session, email: str, actor: Actor = "cli") -> StaffUser:
    """Enable a disabled account again (its old tokens stay revoked)."""
    staff = _require_staff(session, email)
    staff.active = True
    session.add(staff)
    audit.record(session=session, actor=actor, action="staff.enabled", target=_t(staff))
    session.commit()
    return staff


def _t(staff: StaffUser) -> str:
    return f"staff:{staff.id}"


# --- login --------------------------------------------------------------------------------


def authenticate(
    *, session: Session, email: str, password: str, remote_addr: str | None = None
) -> StaffUser:
    """The account for this e-mail and password, or InvalidCredentialsError.

    An unknown e-mail, a disabled account, an account without password and a wrong password
    all raise the same error after one argon2 verification each, so neither the answer nor
    its timing tells whether an e-mail has an account. The hash is upgraded when the argon2
    parameters changed since it was made.
    """
    hasher = password_hasher()
    staff = get_staff_by_email(session=session, email=email)
    reason: str | None = None
    if staff is None or not staff.active or not staff.password_hash:
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(hasher), password)
        reason = "unknown" if staff is None else ("disabled" if not staff.active else "no_password")
    else:
        try:
            hasher.verify(staff.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            reason = "password"
    details: dict[str, object] = {"ip": remote_addr} if remote_addr else {}
    if reason is not None:
        # Failures are logged for existing accounts only: an unknown e-mail typed at the login
        # page may be anyone's, and the rate limit already deals with guessing.
        if staff is not None:
            audit.record(
                session=session,
                actor="anonymous",
                action="staff.login_failed",
                target=_t(staff),
                details={**details, "reason": reason},
            )
            session.commit()
        raise InvalidCredentialsError("Wrong e-mail or password.")
    assert staff is not None and staff.password_hash is not None
    if hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher.hash(password)
        details["rehashed"] = True
    staff.last_login_at = utcnow()
    session.add(staff)
    audit.record(
        session=session, actor=staff, action="staff.login", target=_t(staff), details=details
    )
    session.commit()
    return staff


# --- tokens -------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for a bearer token (see StaffToken for why not argon2)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    *, session: Session, staff: StaffUser, name: str = "api", actor: Actor = "cli"
) -> str:
    """Create a bearer token for ``staff`` and commit; the plain token is returned once only."""
    if not staff.active:
        raise StaffError(f"The account {staff.email!r} is disabled; enable it first.")
    assert staff.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = StaffToken(token_hash=hash_token(token), name=name.strip() or "api", staff_id=staff.id)
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff.token_issued",
        target=_t(staff),
        details={"token_id": row.id, "name": row.name},
    )
    session.commit()
    return token


def staff_for_token(*, session: Session, token: str) -> StaffUser | None:
    """The active account owning this unrevoked token, or None (notes when it was last used)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(StaffToken).where(
            StaffToken.token_hash == hash_token(token), col(StaffToken.revoked_at).is_(None)
        )
    ).first()
    if row is None:
        return None
    staff = session.get(StaffUser, row.staff_id)
    if staff is None or not staff.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        session.add(row)
        session.commit()
    return staff


def list_tokens(*, session: Session, staff: StaffUser) -> list[StaffToken]:
    """The tokens of an account, newest first (hashes only: tokens are never kept)."""
    return list(
        session.exec(
            select(StaffToken)
            .where(StaffToken.staff_id == staff.id)
            .order_by(col(StaffToken.created_at).desc(), col(StaffToken.id).desc())
        )
    )


def _revoke(session: Session, staff: StaffUser, name: str | None) -> int:
    query = select(StaffToken).where(
        StaffToken.staff_id == staff.id, col(StaffToken.revoked_at).is_(None)
    )
    if name is not None:
        query = query.where(StaffToken.name == name)
    now = utcnow()
    count = 0
    for row in session.exec(query):
        row.revoked_at = now
        session.add(row)
        count += 1
    return count


def revoke_tokens(
    *, session: Session, staff: StaffUser, name: str | None = None, actor: Actor = "cli"
) -> int:
    """Revoke the account's tokens (those called ``name``, or all) and commit; returns how many."""
    count = _revoke(session, staff, name)
    audit.record(
        session=session,
        actor=actor,
        action="staff.token_revoked",
        target=_t(staff),
        details={"name": name, "count": count},
    )
    session.commit()
    return count
