"""The audit log of staff actions: logins, tokens, accounts, and reads of personal data.

Actions are dotted names, the resource first: ``staff.login``, ``staff.login_failed``,
``staff.logout``, ``staff.created``, ``staff.disabled``, ``staff.enabled``,
``staff.password_set``, ``staff.token_issued``, ``staff.token_revoked``; other pieces add
their own (``contact.read``, ``report.status_set``...). Targets are ``kind:id`` strings
(``staff:12``, ``report:345``) so that one index answers "who touched this?".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models.staff import AuditLog, StaffUser

__all__ = ["actor_name", "for_target", "record", "record_many", "recent"]

Actor = StaffUser | str | None


def actor_name(actor: Actor) -> tuple[str, int | None]:
    """The text and id stored for ``actor``: a staff account's e-mail, a label, or "system"."""
    if isinstance(actor, StaffUser):
        return actor.email, actor.id
    return (actor or "system"), None


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditLog:
    """Add one audit row to the caller's transaction (the caller commits).

    The row is flushed at once, so a failure shows here and not at a later commit, and it is
    committed or rolled back together with the action it describes (a bulk action writes its
    hundreds of rows with :func:`record_many`). For reads (a contact
    shown to an agent) there is nothing else to commit: call ``session.commit()`` after
    ``record`` and before the data leaves, so that no read goes unlogged.
    """
    name, actor_id = actor_name(actor)
    row = AuditLog(
        actor=name,
        actor_id=actor_id,
        action=action,
        target=target,
        details=dict(details or {}),
        at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def record_many(*, session: Session, actor: Actor, rows: Sequence[dict[str, Any]]) -> None:
    """Add many audit rows of one actor to the caller's transaction, in one executemany
    INSERT (a bulk action: one row per report). Each row: ``action``, ``target``,
    ``details``, optionally ``at``."""
    if not rows:
        return
    name, actor_id = actor_name(actor)
    now = utcnow()
    values = [
        {
            "actor": name,
            "actor_id": actor_id,
            "action": row["action"],
            "target": row["target"],
            "details": dict(row.get("details") or {}),
            "at": row.get("at") or now,
        }
        for row in rows
    ]
    session.execute(insert(AuditLog.__table__), values)  # type: ignore[attr-defined]


def recent(
    *,
    session: Session,
    limit: int = 100,
    actions: Sequence[str] | None = None,
    target: str | None = None,
    actor: str | None = None,
) -> list[AuditLog]:
    """The latest audit rows, newest first, optionally for some actions, a target or an actor."""
    query = select(AuditLog)
    if actions:
        query = query.where(col(AuditLog.action).in_(list(actions)))
    if target is not None:
        query = query.where(AuditLog.target == target)
    if actor is not None:
        query = query.where(AuditLog.actor == actor)
    query = query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc()).limit(limit)
    return list(session.exec(query))


def for_target(
    *,
    session: Session,
    target: str,
    action: str | None = None,
    since: datetime | None = None,
) -> list[AuditLog]:
    """The audit rows about ``target`` (``report:12``), oldest first, optionally one action's
    or those after ``since`` (what changed while someone else had the page open)."""
    query = select(AuditLog).where(AuditLog.target == target)
    if action is not None:
        query = query.where(AuditLog.action == action)
    if since is not None:
        query = query.where(col(AuditLog.at) > since)
    return list(session.exec(query.order_by(col(AuditLog.at), col(AuditLog.id))))
