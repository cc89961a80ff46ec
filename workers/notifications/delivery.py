"""Never twice: each delivery is booked "sending" before it leaves, "sent" once accepted.

The jobs (``workers.jobs.notify_update``, ``deliver_webhook``, ``invite_questionnaires``) call
these functions; they may run again at any time (RQ retries, the outbox catch-up, a worker
killed mid-job), and a delivery already accepted is skipped. An e-mail is also booked
"committing" just before its final "." (SMTP's end of message): an attempt that died before
that is sent again (the server discarded the unfinished message), one that died after it is
marked "uncertain" and never sent again (decision 0010: at most once past the dot). A webhook
still has its window: a receiver may get a POST twice, with the same X-Lanterne-Delivery
(docs/notifications.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import (
    Contact,
    Feedback,
    Notification,
    NotificationChannel,
    Report,
    ReportStatus,
    ReportUpdate,
    Service,
    WebhookEndpoint,
)
from backend.services import notifications as book
from backend.services.contacts import ContactCipher
from backend.services.tracking import resident_token, token_matches
from workers.notifications import mail, webhooks
from workers.notifications.settings import NotifySettings


def _reporter_token(report: Report, person: book.Recipient, settings: NotifySettings) -> str | None:
    """The reporter's own token (derived again from the tracking id), for their mails only.

    None for a follower, for a report filed before tokens existed, and when the secret key
    has changed since the report was filed (the derived token no longer matches its hash).
    """
    if person.kind != book.RecipientKind.REPORTER:
        return None
    token = resident_token(settings.secret_key.encode("utf-8"), report.tracking_id)
    return token if token_matches(report, token) else None


log = logging.getLogger(__name__)

# An invitation that comes this much later than due is not sent at all (too late to ask).
INVITE_WINDOW_DAYS = 14


class TryLaterError(Exception):
    """Some delivery could not go now (server down, another attempt under way): RQ retries
    the job with backoff, and deliveries already accepted are skipped then."""


@dataclass
class Tally:
    """What a job did, for its result and the worker's log."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    resent: int = 0
    uncertain: int = 0  # the end of the message went, the answer did not: maybe missing
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts."""
        return {
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "resent": self.resent,
            "uncertain": self.uncertain,
        }


def _service_name(session: Session, report: Report, lang: str) -> str | None:
    service = session.get(Service, report.service_code) if report.service_code else None
    return service.name(lang) if service else None


def _published_note(update: ReportUpdate) -> str | None:
    # Only the scrubbed note is ever sent: the raw one is staff-only.
    return update.public_note_published if update.public_note else None


def _send_one(
    *,
    session: Session,
    transport: mail.Transport,
    settings: NotifySettings,
    update_id: int,
    recipient: book.Recipient,
    channel: NotificationChannel,
    letter_for: mail.Letter,
    tally: Tally,
    last: bool = False,
) -> None:
    """Book, send, mark one e-mail; TransientFailureError and BUSY end the job (retried).

    ``last``: the job's last delivery, whose mark the job commits with its outbox row.
    """
    key = book.message_key(update_id, recipient.key, channel)
    claim = book.claim(
        session=session,
        update_id=update_id,
        recipient=recipient.key,
        channel=channel,
        message_id=mail.message_id_for(key, settings.mail_from),
        stale_after=settings.stale_after,
        max_attempts=settings.max_attempts,
    )
    if claim.outcome == book.ClaimOutcome.DONE:
        tally.skipped += 1
        return
    if claim.outcome == book.ClaimOutcome.BUSY:
        raise TryLaterError(f"update {update_id}: a delivery is under way in another attempt")
    if claim.outcome == book.ClaimOutcome.UNCERTAIN:
        tally.uncertain += 1
        return
    message = mail.build_message(
        letter=letter_for,
        to=recipient.email,
        sender=settings.mail_from,
        message_id=claim.message_id,
    )

    def before_end() -> None:
        # From here the server may accept the message: never send it again (decision 0010).
        book.mark_committing(
            session=session, update_id=update_id, recipient=recipient.key, channel=channel
        )

    try:
        transport.send(message, before_end)
    except mail.UncertainDeliveryError as exc:
        book.mark_uncertain(
            session=session,
            update_id=update_id,
            recipient=recipient.key,
            channel=channel,
            error=str(exc),
        )
        tally.uncertain += 1
        log.warning("update %s: %s (%s); not sent again", update_id, exc, claim.message_id)
        return
    except mail.PermanentRefusalError as exc:
        book.mark_failed(
            session=session,
            update_id=update_id,
            recipient=recipient.key,
            channel=channel,
            error=str(exc),
            commit=not last,
        )
        tally.failed += 1
        return
    except mail.TransientFailureError as exc:
        book.mark_retry(
            session=session,
            update_id=update_id,
            recipient=recipient.key,
            channel=channel,
            error=str(exc),
        )
        raise TryLaterError(f"update {update_id}: {exc}") from exc
    # Accepted: record it at once (the window where a crash would send it twice).
    book.mark_sent(
        session=session,
        update_id=update_id,
        recipient=recipient.key,
        channel=channel,
        commit=not last,
    )
    tally.sent += 1
    if claim.resend:
        tally.resent += 1
        log.warning(
            "update %s: sent again after an attempt that died mid-send (%s)",
            update_id,
            claim.message_id,
        )


def notify_update(
    *,
    session: Session,
    update_id: int,
    settings: NotifySettings,
    cipher: ContactCipher,
    transport: mail.Transport,
) -> Tally:
    """E-mail one history step to everyone who asked to hear of its report.

    The caller commits after it (with the job's outbox row): the last delivery's mark is
    left to that commit, a round trip sooner.
    """
    tally = Tally()
    found = session.exec(
        select(ReportUpdate, Report)
        .join(Report, col(Report.id) == col(ReportUpdate.report_id))
        .where(col(ReportUpdate.id) == update_id)
    ).first()
    update, report = found if found is not None else (None, None)
    if update is None or report is None:
        log.warning("notify_update: history step %s does not exist (deleted?)", update_id)
        return tally
    if update.public_note and update.public_note_published is None:
        # Queued only after the scrubbing; reaching this means a note changed since: wait.
        raise TryLaterError(f"update {update_id}: its note is not published yet")
    note = _published_note(update)
    people = book.recipients(
        session=session, cipher=cipher, report=report, secret_key=settings.secret_key
    )
    for n, person in enumerate(people, start=1):
        tracking_url, unsubscribe_url = mail.links(
            settings.public_url,
            tracking_id=report.tracking_id,
            token=person.unsubscribe_token,
            lang=person.language,
            resident_token=_reporter_token(report, person, settings),
        )
        letter = mail.status_letter(
            lang=person.language,
            follower=person.kind == book.RecipientKind.FOLLOWER,
            service=_service_name(session, report, person.language),
            status=update.status,
            note=note,
            tracking_url=tracking_url,
            unsubscribe_url=unsubscribe_url,
        )
        _send_one(
            session=session,
            transport=transport,
            settings=settings,
            update_id=update_id,
            recipient=person,
            channel=NotificationChannel.EMAIL,
            letter_for=letter,
            tally=tally,
            last=n == len(people),
        )
    return tally


def deliver_webhook(
    *, session: Session, update_id: int, endpoint_id: int, settings: NotifySettings
) -> Tally:
    """POST one history step to one subscriber system, signed; at most once accepted.

    The caller commits after it (the mark of the delivery goes with the job's outbox row).
    """
    tally = Tally()
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    update = session.get(ReportUpdate, update_id)
    report = session.get(Report, update.report_id) if update is not None else None
    if endpoint is None or not endpoint.active or update is None or report is None:
        tally.skipped += 1
        return tally
    recipient = f"endpoint:{endpoint_id}"
    channel = NotificationChannel.WEBHOOK
    claim = book.claim(
        session=session,
        update_id=update_id,
        recipient=recipient,
        channel=channel,
        message_id=webhooks.delivery_id(update_id, endpoint_id),
        stale_after=settings.stale_after,
        max_attempts=settings.max_attempts,
    )
    if claim.outcome == book.ClaimOutcome.DONE:
        tally.skipped += 1
        return tally
    if claim.outcome == book.ClaimOutcome.BUSY:
        raise TryLaterError(f"webhook {update_id}/{endpoint_id}: another attempt is under way")
    now = int(time.time())
    lang = report.language if report.language in book.LANGUAGES else "fr"
    suffix = f"?lang={lang}"
    payload = {
        "event": webhooks.EVENT,
        "delivery_id": claim.message_id,
        "sent_at": now,
        "tracking_id": report.tracking_id,
        "tracking_url": f"{settings.public_url}/suivi/{report.tracking_id}{suffix}",
        "status": update.status,
        "status_label": mail.status_label(update.status, lang),
        "public_note": _published_note(update),
        "language": lang,
        "service_code": report.service_code,
        "changed_at": update.created_at.isoformat(),
    }
    try:
        webhooks.post(
            url=endpoint.url,
            secret=endpoint.secret,
            body=webhooks.encode(payload),
            delivery=claim.message_id,
            timestamp=now,
            timeout=settings.webhook_timeout,
        )
    except webhooks.WebhookRefusedError as exc:
        book.mark_failed(
            session=session,
            update_id=update_id,
            recipient=recipient,
            channel=channel,
            error=str(exc),
            commit=False,
        )
        tally.failed += 1
        return tally
    except webhooks.WebhookUnreachableError as exc:
        book.mark_retry(
            session=session,
            update_id=update_id,
            recipient=recipient,
            channel=channel,
            error=str(exc),
        )
        raise TryLaterError(f"webhook {update_id}/{endpoint_id}: {exc}") from exc
    book.mark_sent(
        session=session, update_id=update_id, recipient=recipient, channel=channel, commit=False
    )
    tally.sent += 1
    return tally


def due_invitations(
    *, session: Session, now: datetime, settings: NotifySettings, limit: int = 500
) -> list[tuple[int, int]]:
    """(report id, "fixed" step id) of the reports to invite now, oldest first.

    Still fixed, fixed at least ``invite_after`` ago (and not more than two weeks beyond),
    a reporter who consented, no answer yet, and no invitation ever for this report.
    """
    latest = (
        select(ReportUpdate.report_id, func.max(ReportUpdate.id).label("update_id"))
        .where(col(ReportUpdate.status) == ReportStatus.FIXED)
        .group_by(col(ReportUpdate.report_id))
        .subquery()
    )
    due_before = now - settings.invite_after
    too_old = due_before - timedelta(days=INVITE_WINDOW_DAYS)
    invited = (
        select(Notification.id)
        .join(ReportUpdate, col(ReportUpdate.id) == col(Notification.update_id))
        .where(
            col(ReportUpdate.report_id) == col(Report.id),
            col(Notification.channel) == NotificationChannel.INVITE,
        )
    )
    stmt = (
        select(Report.id, latest.c.update_id)
        .join(latest, latest.c.report_id == col(Report.id))
        .join(ReportUpdate, col(ReportUpdate.id) == latest.c.update_id)
        .join(Contact, col(Contact.report_id) == col(Report.id))
        .where(
            col(Report.status) == ReportStatus.FIXED,
            col(ReportUpdate.created_at) <= due_before,
            col(ReportUpdate.created_at) > too_old,
            col(Contact.consent_notifications).is_(True),
            ~exists().where(col(Feedback.report_id) == col(Report.id)),
            ~exists(invited),
        )
        .order_by(col(ReportUpdate.created_at))
        .limit(limit)
    )
    return [(int(r), int(u)) for r, u in session.execute(stmt).all()]


def invite_questionnaires(
    *,
    session: Session,
    settings: NotifySettings,
    cipher: ContactCipher,
    transport: mail.Transport,
    now: datetime | None = None,
) -> Tally:
    """Invite each due reporter to the questionnaire of their fixed report, once."""
    tally = Tally()
    for report_id, update_id in due_invitations(
        session=session, now=now or utcnow(), settings=settings
    ):
        report = session.get(Report, report_id)
        assert report is not None
        person = book.reporter(
            session=session, cipher=cipher, report=report, secret_key=settings.secret_key
        )
        session.commit()
        if person is None:
            continue
        tracking_url, unsubscribe_url = mail.links(
            settings.public_url,
            tracking_id=report.tracking_id,
            token=person.unsubscribe_token,
            lang=person.language,
            resident_token=_reporter_token(report, person, settings),
        )
        letter = mail.invitation_letter(
            lang=person.language,
            service=_service_name(session, report, person.language),
            questionnaire_url=f"{tracking_url}#questionnaire",
            unsubscribe_url=unsubscribe_url,
        )
        _send_one(
            session=session,
            transport=transport,
            settings=settings,
            update_id=update_id,
            recipient=person,
            channel=NotificationChannel.INVITE,
            letter_for=letter,
            tally=tally,
        )
    return tally
