"""RQ entry points. Each job takes ids, reloads its state, and is safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from backend.models import Report, ReportAddition, ReportUpdate
from backend.services import additions, assignment, notifications, outbox, public_notes
from backend.services.classification import apply_prediction
from workers.context import job_session

log = logging.getLogger(__name__)


def process_report(report_id: int) -> dict[str, Any]:
    """Process a new report: classify it, scrub its public text, link it (it stays received)."""
    from workers import classification

    with job_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            log.warning("process_report: report %s does not exist (deleted?)", report_id)
            mark_own_row_done(session)  # nothing to do, ever: the catch-up must not resend it
            session.commit()
            return {"report_id": report_id, "status": "missing"}
        classify = report.predicted_code is None
        scrub_address = bool(report.address) and report.address_public is None
        # The resident's free texts go through the scrubber in one batch (one NER pass): the
        # description, and the address, scrubbed the same way (names, phones, e-mails go;
        # the street and number of a public place stay).
        texts = [report.description] if classify else []
        if scrub_address and report.address:
            texts.append(report.address)
        scrubbed = classification.scrubber().scrub_many(texts) if texts else []
        if classify:
            prediction = classification.classifier(session).classify(report.description)
            apply_prediction(
                report=report,
                service_code=prediction.service_code,
                confidence=prediction.confidence,
                top=prediction.top,
                model_version=prediction.model_version,
                language=prediction.language,
                needs_triage=prediction.needs_triage,
                public_text=scrubbed[0].text,
            )
        if scrub_address:
            report.address_public = scrubbed[-1].text
        # The report stays "received": it turns "open" when someone at the city reads it
        # (backend.services.reading.mark_read), not when a machine has sorted it.
        # The service is known now: the routing rules give the team, the service its due date.
        assignment.apply_routing(
            session=session, report=report, settings=assignment.deadline_settings()
        )
        session.add(report)
        links = links_in_transaction(session, report_id)
        # One commit for all of it, the outbox row included: if it is lost, the job runs again.
        mark_own_row_done(session)
        session.commit()
        # No refresh of the aggregates here: the public figures change only at publication,
        # which first folds in every report changed since the last one, each cell once
        # (workers.publication.cells.catch_up). At 50 reports a second that saves a third of
        # this job.
        return {
            "report_id": report_id,
            "status": report.status,
            "service_code": report.service_code,
            "needs_triage": report.needs_triage,
            "links": links,
        }


def scrub_note(update_id: int) -> dict[str, Any]:
    """Scrub one public note (staff or a back office wrote it), which publishes it (``high``).

    The agent's request may be waiting for the answer (``backend.services.public_notes``).
    """
    from workers import classification

    with job_session() as session:
        update = session.get(ReportUpdate, update_id)
        if update is None:
            log.warning("scrub_note: history step %s does not exist (deleted?)", update_id)
        elif update.public_note and update.public_note_published is None:
            scrubbed = classification.scrubber().scrub(update.public_note)
            public_notes.publish(update=update, text=scrubbed.text, removed=scrubbed.kinds())
            session.add(update)
            # Published now: the residents hear of the step, with this text only.
            notifications.queue_for_update(session=session, update=update)
        mark_own_row_done(session)
        session.commit()
        if update is None:
            return {"update_id": update_id, "status": "missing"}
        return {
            "update_id": update_id,
            "published": update.public_note_published,
            "removed": update.public_note_removed,
        }


def scrub_addition(addition_id: int) -> dict[str, Any]:
    """Scrub the text a resident added to their report, which shows it back to them (``high``)."""
    from workers import classification

    with job_session() as session:
        addition = session.get(ReportAddition, addition_id)
        if addition is None:
            log.warning("scrub_addition: addition %s does not exist (deleted?)", addition_id)
        elif addition.text and addition.text_public is None:
            scrubbed = classification.scrubber().scrub(addition.text)
            additions.publish(addition=addition, text=scrubbed.text, removed=scrubbed.kinds())
            session.add(addition)
        mark_own_row_done(session)
        session.commit()
        if addition is None:
            return {"addition_id": addition_id, "status": "missing"}
        return {"addition_id": addition_id, "published": addition.text_public}


def scrub_backlog(batch_size: int = 500) -> dict[str, int]:
    """Scrub every address and public note not scrubbed yet (queued by migration 0013).

    Rows written before the scrubbed columns existed are not public until this has run.
    """
    from sqlmodel import col, select

    from workers import classification

    scrubber = classification.scrubber()
    counts = {"addresses": 0, "notes": 0}
    with job_session() as session:
        while True:
            reports = session.exec(
                select(Report)
                .where(col(Report.address).is_not(None), col(Report.address_public).is_(None))
                .order_by(col(Report.id))
                .limit(batch_size)
            ).all()
            if not reports:
                break
            texts = [r.address or "" for r in reports]
            for report, result in zip(reports, scrubber.iter_scrub(texts), strict=True):
                report.address_public = result.text
                session.add(report)
            counts["addresses"] += len(reports)
            session.commit()
        while True:
            updates = session.exec(
                select(ReportUpdate)
                .where(
                    col(ReportUpdate.public_note).is_not(None),
                    col(ReportUpdate.public_note_published).is_(None),
                )
                .order_by(col(ReportUpdate.id))
                .limit(batch_size)
            ).all()
            if not updates:
                break
            notes = [u.public_note or "" for u in updates]
            for update, result in zip(updates, scrubber.iter_scrub(notes), strict=True):
                public_notes.publish(update=update, text=result.text, removed=result.kinds())
                session.add(update)
            counts["notes"] += len(updates)
            session.commit()
        mark_own_row_done(session)
        session.commit()
    return counts


def suggest_category(text: str) -> dict[str, Any]:
    """Top 3 categories for a text being typed (the ``high`` queue; the web waits for it)."""
    from workers import classification

    with job_session() as session:
        prediction = classification.classifier(session).classify(text)
    return {
        "service_code": prediction.service_code,
        "confidence": prediction.confidence,
        "language": prediction.language,
        "needs_triage": prediction.needs_triage,
        "top": [{"service_code": c, "confidence": p} for c, p in prediction.top],
        "model_version": prediction.model_version,
    }


def retrain_classifier(seed: int = 0, only_if_new: bool = False) -> dict[str, Any]:
    """Retrain on corpus + triage corrections; promote only if test macro-F1 does not drop.

    ``only_if_new`` (the weekly schedule): do nothing when triage has given no correction
    since the last model was trained.
    """
    from sqlmodel import col, select

    from backend.models import ModelVersion
    from backend.services.classification import gold_examples
    from workers.retraining import retrain_and_maybe_promote

    with job_session() as session:
        if only_if_new:
            last = session.exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).first()
            corrections = len(gold_examples(session=session))
            if corrections == 0 or (last is not None and last.corrections_used == corrections):
                return {"retrained": False, "corrections": corrections}
        return retrain_and_maybe_promote(session=session, seed=seed)


def purge_contacts() -> int:
    """Delete contact details of reports closed longer ago than the retention period (daily)."""
    from datetime import timedelta

    from flask import current_app

    from backend.db import utcnow
    from backend.services.contacts import purge_expired_contacts

    with job_session() as session:
        days = current_app.config["CONTACT_RETENTION_DAYS"]
        return purge_expired_contacts(session=session, retention=timedelta(days=days), now=utcnow())


def refresh_dashboard() -> int:
    """Recompute and store the staff figures: the dashboard of every period and the map's
    grid of open reports (every 5 minutes); how many rows were stored."""
    from backend.services.dashboard import refresh
    from backend.services.queue_map import refresh_grid

    with job_session() as session:
        stored = len(refresh(session=session))
        refresh_grid(session=session)
        return stored + 1


def detect_signals(as_of: str | None = None) -> dict[str, Any]:
    """Run the daily weak-signal detection for ``as_of`` (YYYY-MM-DD; default yesterday)."""
    from datetime import date

    from flask import current_app

    from workers.signals.detect import detect_signals as run_detection
    from workers.signals.settings import DetectionSettings

    with job_session() as session:
        day = date.fromisoformat(as_of) if as_of else None
        summary = run_detection(
            session=session, as_of=day, settings=DetectionSettings.from_config(current_app.config)
        )
        # Queued through the outbox too (the demo asks for a first detection).
        mark_own_row_done(session)
        session.commit()
        return summary.to_dict()


def links_in_transaction(session: Any, report_id: int) -> int:
    """Recompute a report's links in the caller's transaction; how many (never raises on a bad
    rules file, which is read before anything is written: the error is logged)."""
    from workers import linking

    try:
        rules = linking.load_rules()
    except linking.LinkingRulesError as exc:
        log.error("linking rules unusable, report %s not linked: %s", report_id, exc)
        return 0
    return len(linking.link_report(session, report_id, rules=rules))


def link_report_now(session: Any, report_id: int) -> int:
    """Recompute and commit a report's links to official incidents; how many."""
    count = links_in_transaction(session, report_id)
    session.commit()
    return count


def link_report(report_id: int) -> dict[str, Any]:
    """Link one report to the official incidents near it in space and time (idempotent).

    Queued through the outbox after a category correction (the rules depend on the category),
    so it marks its own outbox row done, or the catch-up would push it again and again.
    """
    with job_session() as session:
        links = link_report_now(session, report_id)
        mark_own_row_done(session)
        session.commit()
        return {"report_id": report_id, "links": links}


def link_reports(report_ids: list[int]) -> dict[str, Any]:
    """Link a batch of reports (after an import of historical reports)."""
    with job_session() as session:
        total = sum(link_report_now(session, report_id) for report_id in report_ids)
        mark_own_row_done(session)
        session.commit()
    return {"reports": len(report_ids), "links": total}


def link_incidents(incident_ids: list[int]) -> dict[str, Any]:
    """Link a batch of newly imported incidents to the reports near them (idempotent)."""
    from workers import linking

    with job_session() as session:
        links = linking.link_incidents(session, incident_ids)
        mark_own_row_done(session)
        session.commit()
    return {"incidents": len(incident_ids), "links": len(links)}


def notify_update(update_id: int) -> dict[str, Any]:
    """E-mail one history step to the residents who asked (``notify``; never twice)."""
    from flask import current_app

    from workers.notifications import delivery, mail
    from workers.notifications.settings import NotifySettings, contact_cipher

    with job_session() as session:
        settings = NotifySettings.from_config(current_app.config)
        transport = mail.transport_for(
            settings.smtp_url, timeout=settings.smtp_timeout, mail_path=settings.mail_path
        )
        with transport:
            tally = delivery.notify_update(
                session=session,
                update_id=update_id,
                settings=settings,
                cipher=contact_cipher(current_app),
                transport=transport,
            )
        mark_own_row_done(session)
        session.commit()
    return {"update_id": update_id, **tally.as_dict()}


def deliver_webhook(update_id: int, endpoint_id: int) -> dict[str, Any]:
    """POST one history step to one subscriber system, signed (``notify``; never twice)."""
    from flask import current_app

    from workers.notifications import delivery
    from workers.notifications.settings import NotifySettings

    with job_session() as session:
        tally = delivery.deliver_webhook(
            session=session,
            update_id=update_id,
            endpoint_id=endpoint_id,
            settings=NotifySettings.from_config(current_app.config),
        )
        mark_own_row_done(session)
        session.commit()
    return {"update_id": update_id, "endpoint_id": endpoint_id, **tally.as_dict()}


def invite_questionnaires() -> dict[str, Any]:
    """Invite the reporters of reports fixed some days ago to the questionnaire (hourly)."""
    from flask import current_app

    from workers.notifications import delivery, mail
    from workers.notifications.settings import NotifySettings, contact_cipher

    with job_session() as session:
        settings = NotifySettings.from_config(current_app.config)
        transport = mail.transport_for(
            settings.smtp_url, timeout=settings.smtp_timeout, mail_path=settings.mail_path
        )
        with transport:
            tally = delivery.invite_questionnaires(
                session=session,
                settings=settings,
                cipher=contact_cipher(current_app),
                transport=transport,
            )
    return tally.as_dict()


def drain_outbox() -> int:
    """Push pending outbox rows to RQ (scheduled every few seconds)."""
    from backend.extensions import redis_conn
    from backend.services import outbox

    with job_session() as session:
        return outbox.dispatch_pending(session=session, connection=redis_conn.client)


def refresh_aggregates(report_id: int) -> dict[str, Any]:
    """Recompute the aggregate cell(s) of one report after a change (incremental)."""
    from flask import current_app

    from workers.publication.cells import refresh_report

    with job_session() as session:
        keys = refresh_report(
            session=session, report_id=report_id, tz=current_app.config["PUBLIC_TIMEZONE"]
        )
        mark_own_row_done(session)
        session.commit()
    return {"report_id": report_id, "cells": len(keys)}


def mark_own_row_done(session: Any) -> None:
    """Mark the outbox row of the running RQ job done (in the caller's transaction).

    Every job queued through the outbox calls this, whatever its job id: the catch-up pushes
    again any row not done. Outside RQ (a direct call) there is no row to mark.
    """
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        outbox.mark_done(session=session, job_id=job.id)


def publish_aggregates(force: bool = False) -> dict[str, Any]:
    """Fold in missed changes, then rebuild the published snapshot if anything changed."""
    from flask import current_app

    from workers.publication.cells import catch_up
    from workers.publication.publish import publish
    from workers.publication.settings import PublishSettings

    with job_session() as session:
        settings = PublishSettings.from_config(current_app.config)
        catch_up(session=session, tz=settings.tz)
        return publish(session=session, settings=settings, force=force)


def rebuild_aggregates() -> dict[str, Any]:
    """Recompute every aggregate cell from the reports, then publish (nightly)."""
    from flask import current_app

    from workers.publication.cells import rebuild_all

    with job_session() as session:
        cells = rebuild_all(session=session, tz=current_app.config["PUBLIC_TIMEZONE"])
    return {"cells": cells, **publish_aggregates(force=True)}


def profile_event(event_id: int) -> dict[str, Any]:
    """Fit and store an event's hourly risk profile (and, once it is over, what was seen)."""
    from workers.events.analysis import analyse_event

    with job_session() as session:
        summary = analyse_event(session, event_id)
        mark_own_row_done(session)
        session.commit()
    return summary


def profile_events() -> dict[str, Any]:
    """Nightly: refit every event not over yet, never profiled, or changed since."""
    from workers.events.analysis import analyse_event, events_to_refresh

    done = 0
    with job_session() as session:
        ids = events_to_refresh(session)
        for event_id in ids:
            try:
                analyse_event(session, event_id)
                session.commit()
                done += 1
            except Exception:  # one bad event must not stop the night's run
                session.rollback()
                log.exception("profile_events: event %s failed", event_id)
        mark_own_row_done(session)
        session.commit()
    return {"events": len(ids), "profiled": done}
