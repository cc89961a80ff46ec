"""API keys of Open311 clients: created shown once, stored hashed, revoked, rate-limited."""

from __future__ import annotations

import hashlib
import secrets

from limits import parse_many
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import ApiKey
from backend.services import audit

KEY_PREFIX = "lnt_"
DEFAULT_RATE_LIMIT = "100/minute"


class ApiKeyError(ValueError):
    """A key that cannot be created or revoked; the message says why."""


def hash_key(plain: str) -> str:
    """The SHA-256 of a key, as stored (see ``ApiKey`` for why a plain hash is enough)."""
    return hashlib.sha256(plain.encode()).hexdigest()


def check_rate_limit(value: str) -> str:
    """The rate limit string, normalised; ApiKeyError if Flask-Limiter cannot read it."""
    value = value.strip()
    try:
        if not parse_many(value):
            raise ValueError("empty")
    except ValueError as exc:
        raise ApiKeyError(
            f"rate limit {value!r} is not understood; write e.g. '100/minute' or "
            "'1000 per hour;20 per second'"
        ) from exc
    return value


def create_key(
    *,
    session: Session,
    name: str,
    rate_limit: str = DEFAULT_RATE_LIMIT,
    can_post_updates: bool = False,
    actor: audit.Actor = "cli",
) -> tuple[ApiKey, str]:
    """Create a key named ``name``; return the row and the plain key (shown once, never kept)."""
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name (the client it is for)")
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise ApiKeyError(f"a key named {name!r} already exists; revoke it or pick another name")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        key_hash=hash_key(plain),
        prefix=plain[:10],
        rate_limit=check_rate_limit(rate_limit),
        can_post_updates=can_post_updates,
    )
    session.add(key)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="apikey.created",
        target=f"apikey:{key.id}",
        details={"name": name, "rate_limit": key.rate_limit, "can_post_updates": can_post_updates},
    )
    session.commit()
    return key, plain


def find_key(*, session: Session, plain: str) -> ApiKey | None:
    """The key row for a plain key (revoked ones included), or None."""
    if not plain:
        return None
    return session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plain))).first()


def list_keys(*, session: Session) -> list[ApiKey]:
    """Every key, oldest first."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))))


def revoke_key(*, session: Session, name: str, actor: audit.Actor = "cli") -> ApiKey:
    """Revoke the key named ``name`` (kept, for the history of what it posted)."""
    key = session.exec(select(ApiKey).where(ApiKey.name == name)).first()
    if key is None:
        raise ApiKeyError(f"no key is named {name!r}; see `lanterne apikey list`")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        audit.record(
            session=session,
            actor=actor,
            action="apikey.revoked",
            target=f"apikey:{key.id}",
            details={"name": name},
        )
        session.commit()
    return key
