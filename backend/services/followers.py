"""Followers of a report: "it's the same, I follow it / +1" instead of a second report."""

from __future__ import annotations

import secrets

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.models import Report, Subscription
from backend.services.contacts import ContactCipher, ContactDetails
from backend.services.workflow import is_closed

__all__ = ["ReportClosedError", "follow", "followers_count"]


class ReportClosedError(ValueError):
    """A closed report (fixed, rejected, duplicate...) takes no new followers."""


def followers_count(session: Session, report_id: int) -> int:
    """How many residents follow a report (+1s included; unsubscribing keeps the +1)."""
    stmt = select(func.count()).select_from(Subscription).where(Subscription.report_id == report_id)
    return int(session.exec(stmt).one())


def follow(
    *,
    session: Session,
    cipher: ContactCipher,
    report: Report,
    email: str | None,
    consent: bool,
    language: str,
) -> int:
    """Add a follower to an open report and commit; return its followers count.

    With an e-mail, the same person (the e-mail's keyed hash) follows a report once: a second
    follow updates their consent and language and adds nothing. Without an e-mail it is a +1
    only, never notified. The e-mail is encrypted with the contact keys, as a reporter's is.
    ``ReportClosedError`` for a closed report.
    """
    if is_closed(report.status):
        raise ReportClosedError("this report is closed: it takes no new followers")
    assert report.id is not None
    email = (email or "").strip() or None
    email_hmac = cipher.keyed_hash(email.lower()) if email else None
    if email_hmac is not None:
        existing = session.exec(
            select(Subscription).where(
                Subscription.report_id == report.id, Subscription.email_hmac == email_hmac
            )
        ).first()
        if existing is not None:
            existing.consent_notifications = consent
            existing.language = language
            existing.unsubscribed_at = None if consent else existing.unsubscribed_at
            session.add(existing)
            session.commit()
            return followers_count(session, report.id)
    row = Subscription(
        report_id=report.id,
        ciphertext=cipher.encrypt(ContactDetails(email=email)) if email else None,
        email_hmac=email_hmac,
        language=language,
        consent_notifications=bool(consent and email),
        token=secrets.token_urlsafe(32),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # The same person's two clicks raced: the other one stored the row.
        session.rollback()
    return followers_count(session, report.id)
