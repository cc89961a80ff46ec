"""Notifications: who hears of a history step, and the book of what was sent (never twice).

Every ``ReportUpdate`` (``reports.set_status``) is told to the residents who consented (the
reporter's ``Contact``, the followers' ``Subscription``) by e-mail, and to each active
subscriber system by a signed webhook. The jobs are queued through the outbox in the
transaction that makes the step visible: ``set_status``'s for a step without a note, the
scrubbing job's for a step with one (only the published, scrubbed note is ever sent).

The sending itself is in ``workers.notifications``; this module holds the database side: the
recipients, the unsubscribe tokens, and ``claim``/``mark_*`` on the ``notification`` table,
whose unique key (update, recipient, channel) is written *before* anything leaves.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, text, update
from sqlmodel import Session, col, select

from backend.db import dialect_insert, utcnow
from backend.jobs import DELIVER_WEBHOOK, NOTIFY_UPDATE
from backend.models import (
    Contact,
    Notification,
    NotificationStatus,
    Report,
    ReportUpdate,
    Subscription,
    WebhookEndpoint,
)
from backend.services import outbox
from backend.services.contacts import ContactCipher

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
_UNSUBSCRIBE_SALT = "lanterne-unsubscribe"


def notify_job_id(update_id: int) -> str:
    """The RQ job id of a step's e-mails: one per history step."""
    return f"notify-update-{update_id}"


def webhook_job_id(update_id: int, endpoint_id: int) -> str:
    """The RQ job id of one webhook delivery: one per (step, endpoint)."""
    return f"webhook-{update_id}-{endpoint_id}"


def has_consenting_recipient(*, session: Session, report_id: int) -> bool:
    """Whether anyone asked to hear of this report by e-mail (reporter or follower)."""
    reporter = exists().where(
        col(Contact.report_id) == report_id,
        col(Contact.consent_notifications).is_(True),
        col(Contact.email_hmac).is_not(None),
    )
    follower = exists().where(
        col(Subscription.report_id) == report_id,
        col(Subscription.consent_notifications).is_(True),
        col(Subscription.unsubscribed_at).is_(None),
        col(Subscription.ciphertext).is_not(None),
    )
    return bool(session.execute(select(reporter | follower)).scalar())


def queue_for_update(*, session: Session, update: ReportUpdate) -> None:
    """Queue the e-mails and webhooks of a history step, in the caller's transaction.

    Called by ``set_status`` for a step without a note, and by the scrubbing job once it has
    published a step's note. No e-mail job when nobody consented (most reports): a job per
    status change of every report would be work for nothing.
    """
    if update.id is None:
        session.flush()
    assert update.id is not None
    if has_consenting_recipient(session=session, report_id=update.report_id):
        outbox.add_job(
            session=session,
            job_path=NOTIFY_UPDATE.path,
            args=[update.id],
            job_id=notify_job_id(update.id),
            queue=NOTIFY_UPDATE.queue,
        )
    endpoints = session.exec(
        select(col(WebhookEndpoint.id)).where(col(WebhookEndpoint.active).is_(True))
    ).all()
    for endpoint_id in endpoints:
        assert endpoint_id is not None
        outbox.add_job(
            session=session,
            job_path=DELIVER_WEBHOOK.path,
            args=[update.id, endpoint_id],
            job_id=webhook_job_id(update.id, endpoint_id),
            queue=DELIVER_WEBHOOK.queue,
        )


# --- recipients and unsubscribing -----------------------------------------------------------


class RecipientKind(StrEnum):
    """Why someone hears of a report."""

    REPORTER = "reporter"
    FOLLOWER = "follower"


@dataclass(frozen=True)
class Recipient:
    """One resident to tell: the address (decrypted for the send only), language, token."""

    email: str
    key: str  # the keyed hash of the address: the ``notification.recipient``
    language: str
    kind: RecipientKind
    unsubscribe_token: str


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_UNSUBSCRIBE_SALT)


def reporter_token(*, secret_key: str, report_id: int) -> str:
    """The reporter's unsubscribe token: the report id, signed with the app's secret."""
    return str(_serializer(secret_key).dumps({"r": report_id}))


def _language(value: str | None) -> str:
    return value if value in LANGUAGES else "fr"


def reporter(
    *, session: Session, cipher: ContactCipher, report: Report, secret_key: str
) -> Recipient | None:
    """The reporter, if they gave an e-mail and agreed to hear back (else None)."""
    assert report.id is not None
    contact = session.exec(select(Contact).where(col(Contact.report_id) == report.id)).first()
    if contact is None or not contact.consent_notifications or not contact.email_hmac:
        return None
    email = cipher.decrypt(contact.ciphertext).email
    if not email:
        return None
    return Recipient(
        email=email,
        key=contact.email_hmac,
        language=_language(report.language),
        kind=RecipientKind.REPORTER,
        unsubscribe_token=reporter_token(secret_key=secret_key, report_id=report.id),
    )


def followers(*, session: Session, cipher: ContactCipher, report: Report) -> list[Recipient]:
    """The followers who gave an e-mail, agreed to hear back, and did not unsubscribe."""
    rows = session.exec(
        select(Subscription)
        .where(
            col(Subscription.report_id) == report.id,
            col(Subscription.consent_notifications).is_(True),
            col(Subscription.unsubscribed_at).is_(None),
            col(Subscription.ciphertext).is_not(None),
        )
        .order_by(col(Subscription.id))
    ).all()
    found = []
    for row in rows:
        assert row.ciphertext is not None
        email = cipher.decrypt(row.ciphertext).email
        if not email:
            continue
        key = row.email_hmac or cipher.keyed_hash(email.lower())
        found.append(
            Recipient(
                email=email,
                key=key,
                language=_language(row.language),
                kind=RecipientKind.FOLLOWER,
                unsubscribe_token=row.token,
            )
        )
    return found


def recipients(
    *, session: Session, cipher: ContactCipher, report: Report, secret_key: str
) -> list[Recipient]:
    """Everyone to tell of a step of ``report``, each address once (the reporter first)."""
    found = [
        r
        for r in [reporter(session=session, cipher=cipher, report=report, secret_key=secret_key)]
        if r is not None
    ]
    found += followers(session=session, cipher=cipher, report=report)
    seen: set[str] = set()
    unique = []
    for recipient in found:
        if recipient.key not in seen:
            seen.add(recipient.key)
            unique.append(recipient)
    return unique


@dataclass(frozen=True)
class Unsubscription:
    """What an unsubscribe token stands for: whose e-mails stop, and the report's tracking id."""

    kind: RecipientKind
    tracking_id: str
    row: Contact | Subscription
    already: bool


def resolve_unsubscribe(*, session: Session, token: str, secret_key: str) -> Unsubscription | None:
    """The contact or follower a token unsubscribes, or None for a token that is not one."""
    if len(token) > 200:
        return None
    by_token = select(Subscription).where(col(Subscription.token) == token)
    subscription = session.exec(by_token).first()
    if subscription is not None:
        report = session.get(Report, subscription.report_id)
        if report is None:
            return None
        return Unsubscription(
            kind=RecipientKind.FOLLOWER,
            tracking_id=report.tracking_id,
            row=subscription,
            already=subscription.unsubscribed_at is not None,
        )
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
        return None
    report = session.get(Report, payload["r"])
    contact = session.exec(select(Contact).where(col(Contact.report_id) == payload["r"])).first()
    if report is None or contact is None:
        return None
    return Unsubscription(
        kind=RecipientKind.REPORTER,
        tracking_id=report.tracking_id,
        row=contact,
        already=not contact.consent_notifications,
    )


def unsubscribe(*, session: Session, found: Unsubscription) -> None:
    """Stop the e-mails of a contact or follower (commits); the report, the +1 and the contact
    details stay as they are (the contact details go on their usual schedule)."""
    row = found.row
    if isinstance(row, Subscription):
        if row.unsubscribed_at is None:
            row.unsubscribed_at = utcnow()
    else:
        row.consent_notifications = False
    session.add(row)
    session.commit()


# --- the book of deliveries -----------------------------------------------------------------


class ClaimOutcome(StrEnum):
    """What a job may do with one delivery."""

    SEND = "send"  # go: the row says "sending" and this attempt is counted
    DONE = "done"  # sent or given up already: nothing to do, ever
    BUSY = "busy"  # another attempt is under way (or died a moment ago): try again later
    UNCERTAIN = "uncertain"  # an attempt died after the final "." : marked so, never again


@dataclass(frozen=True)
class Claim:
    """The outcome of ``claim`` and the row's message id."""

    outcome: ClaimOutcome
    message_id: str
    attempts: int
    resend: bool  # a previous attempt died during the send: the other side may have it


def _durable(session: Session) -> None:
    # Workers commit without waiting for PostgreSQL's disk (decision 0005); a "sent" must
    # survive a database crash, or the message would be sent again.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO on"))


def message_key(update_id: int, recipient: str, channel: str) -> str:
    """A stable id of one delivery (the same on every attempt), not revealing the recipient."""
    return hashlib.sha256(f"{update_id}:{recipient}:{channel}".encode()).hexdigest()[:32]


def claim(
    *,
    session: Session,
    update_id: int,
    recipient: str,
    channel: str,
    message_id: str,
    stale_after: timedelta,
    max_attempts: int,
) -> Claim:
    """Write (or take up) a delivery as "sending" and commit, before anything leaves.

    A new delivery is inserted (``ON CONFLICT DO NOTHING`` on the unique key: of two
    concurrent attempts one inserts, the other reads the row). A row "sent" or "failed" is
    done. A row "retry" is taken up. A row still "sending" is a previous attempt that died
    between writing it and hearing the answer (or one still running): once it is older than
    ``stale_after`` (longer than any send may take) it is taken up, and the message may
    reach the recipient twice, with the same Message-ID (docs/notifications.md); younger,
    the caller tries later. A row still "committing" (an e-mail whose final "." was about
    to go, or went, when the attempt died) is, once as old, marked "uncertain" and never
    sent again: the server may have it (docs/notifications.md, decision 0010).
    """
    now = utcnow()
    table = Notification.__table__  # type: ignore[attr-defined]
    inserted = session.execute(
        dialect_insert(session, table)
        .values(
            update_id=update_id,
            recipient=recipient,
            channel=channel,
            status=NotificationStatus.SENDING,
            attempts=1,
            message_id=message_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["update_id", "recipient", "channel"])
        .returning(table.c.id)
    ).first()
    if inserted is not None:
        # Not waiting for the disk here: if a database crash lost this row, no "sent" after
        # it survived either (the WAL is in order), and the message goes as if never tried.
        session.commit()
        return Claim(ClaimOutcome.SEND, message_id, 1, resend=False)
    found = session.exec(
        select(Notification)
        .where(
            col(Notification.update_id) == update_id,
            col(Notification.recipient) == recipient,
            col(Notification.channel) == channel,
        )
        .with_for_update()
    ).one()
    if found.status in (
        NotificationStatus.SENT,
        NotificationStatus.FAILED,
        NotificationStatus.UNCERTAIN,
    ):
        session.commit()
        return Claim(ClaimOutcome.DONE, found.message_id, found.attempts, resend=False)
    in_flight = (NotificationStatus.SENDING, NotificationStatus.COMMITTING)
    if found.status in in_flight and found.updated_at > now - stale_after:
        session.commit()
        return Claim(ClaimOutcome.BUSY, found.message_id, found.attempts, resend=False)
    if found.status == NotificationStatus.COMMITTING:
        # The attempt died after the whole message and its final "." may have gone: the
        # server may have accepted it. Never again (at most once past the dot): uncertain.
        found.status = NotificationStatus.UNCERTAIN
        found.last_error = "the worker died while the server was taking the message"
        found.updated_at = now
        session.add(found)
        session.commit()
        log.warning(
            "delivery %s: the attempt died after the end of the message; not sent again "
            "(it may be missing)",
            found.message_id,
        )
        return Claim(ClaimOutcome.UNCERTAIN, found.message_id, found.attempts, resend=False)
    resend = found.status == NotificationStatus.SENDING
    if found.attempts >= max_attempts:
        found.status = NotificationStatus.FAILED
        given_up = f"given up after {found.attempts} attempts; {found.last_error or ''}"
        found.last_error = given_up[:500]
        found.updated_at = now
        session.add(found)
        session.commit()
        return Claim(ClaimOutcome.DONE, found.message_id, found.attempts, resend=False)
    found.status = NotificationStatus.SENDING
    found.attempts += 1
    found.updated_at = now
    session.add(found)
    session.commit()
    return Claim(ClaimOutcome.SEND, found.message_id, found.attempts, resend=resend)


def _mark(
    session: Session,
    *,
    update_id: int,
    recipient: str,
    channel: str,
    status: NotificationStatus,
    error: str | None,
    commit: bool = True,
) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": error}
    if status == NotificationStatus.SENT:
        values["sent_at"] = now
    session.execute(
        update(Notification)
        .where(
            col(Notification.update_id) == update_id,
            col(Notification.recipient) == recipient,
            col(Notification.channel) == channel,
        )
        .values(**values)
    )
    # Not "committing": waiting for the disk there widens the one window left (a worker
    # killed while PostgreSQL flushes: the row says "committing", the final "." never went,
    # the e-mail is missing); a database crash losing it only makes the delivery "sending"
    # again (sent again: at worst a copy, for a database crash, never for a worker's).
    if status == NotificationStatus.SENT:
        _durable(session)
    if commit:
        session.commit()


def mark_sent(
    *, session: Session, update_id: int, recipient: str, channel: str, commit: bool = True
) -> None:
    """Record that the other side accepted the delivery, and commit at once (the short
    window). ``commit=False``: the caller commits next, with its own last writes (a job's
    outbox row), one round trip sooner."""
    _mark(
        session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        status=NotificationStatus.SENT,
        error=None,
        commit=commit,
    )


def mark_committing(*, session: Session, update_id: int, recipient: str, channel: str) -> None:
    """Record that the whole message is with the server and only its final "." is left to
    send (commits, not waiting for the disk: the window is that commit's time). From here a
    crash means "uncertain", never a second copy; before here, the server discards the
    unfinished message."""
    _mark(
        session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        status=NotificationStatus.COMMITTING,
        error=None,
    )


def mark_uncertain(
    *, session: Session, update_id: int, recipient: str, channel: str, error: str
) -> None:
    """Record that the final "." went but no answer came: never sent again (commits)."""
    _mark(
        session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        status=NotificationStatus.UNCERTAIN,
        error=error[:500],
    )


def mark_retry(
    *, session: Session, update_id: int, recipient: str, channel: str, error: str
) -> None:
    """Record a refusal for a passing reason: the delivery is tried again (commits)."""
    _mark(
        session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        status=NotificationStatus.RETRY,
        error=error[:500],
    )


def mark_failed(
    *,
    session: Session,
    update_id: int,
    recipient: str,
    channel: str,
    error: str,
    commit: bool = True,
) -> None:
    """Record a refusal for good (an address the server refuses): never tried again."""
    _mark(
        session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        status=NotificationStatus.FAILED,
        error=error[:500],
        commit=commit,
    )


# --- webhook endpoints ----------------------------------------------------------------------


class WebhookError(ValueError):
    """A webhook endpoint refused (bad URL, unknown id): the message says why."""


def add_endpoint(*, session: Session, url: str, description: str = "") -> WebhookEndpoint:
    """Register a subscriber system; its secret is generated here (commits)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError(f"not an http(s) URL: {url!r}")
    endpoint = WebhookEndpoint(
        url=url, secret=secrets.token_hex(32), description=description.strip()[:500]
    )
    session.add(endpoint)
    session.commit()
    session.refresh(endpoint)
    return endpoint


def list_endpoints(*, session: Session) -> list[WebhookEndpoint]:
    """Every endpoint, active or not, oldest first."""
    return list(session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all())


def disable_endpoint(*, session: Session, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to an endpoint (deliveries already queued are dropped) (commits)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError(f"no webhook endpoint has the id {endpoint_id}")
    if endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = utcnow()
        session.add(endpoint)
        session.commit()
    return endpoint
