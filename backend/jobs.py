"""Every job and every queue, by name: the one place the backend names work for the workers.

The web process never imports ``workers`` (``tests/test_layers.py``): a job is handed to RQ
by its dotted path in ``workers.jobs``, and this module is where those paths are written.
Each job goes with the queue it runs on. ``tests/test_jobs.py`` checks that every path names
a function of ``workers.jobs`` and that the Procfile's worker listens on every queue, in the
order of ``QUEUES``. This module imports nothing of the project, so any layer may use it.

Migrations keep the paths they were written with (``0013_public_text``): a migration is
history, it does not follow later renames.
"""

from __future__ import annotations

from typing import NamedTuple

# The queues, as a worker takes them: the first one first.
HIGH = "high"  # a person waits for the answer (a category suggestion, a note being scrubbed)
REPORTS = "reports"  # the intake pipeline: each new report is classified, scrubbed, linked
NOTIFY = "notify"  # e-mails and webhooks to residents: short jobs, never behind a long one
DEFAULT = "default"  # everything else: aggregates, links after an import, the outbox catch-up
SIGNALS = "signals"  # the nightly detection (long; last, so it never delays the others)
QUEUES = (HIGH, REPORTS, NOTIFY, DEFAULT, SIGNALS)


class Job(NamedTuple):
    """A job of the workers: its dotted path in ``workers.jobs`` and the queue it goes to."""

    path: str
    queue: str


PROCESS_REPORT = Job("workers.jobs.process_report", REPORTS)
LINK_REPORT = Job("workers.jobs.link_report", REPORTS)
SUGGEST_CATEGORY = Job("workers.jobs.suggest_category", HIGH)
SCRUB_NOTE = Job("workers.jobs.scrub_note", HIGH)
SCRUB_ADDITION = Job("workers.jobs.scrub_addition", HIGH)
SCRUB_BACKLOG = Job("workers.jobs.scrub_backlog", DEFAULT)
REFRESH_AGGREGATES = Job("workers.jobs.refresh_aggregates", DEFAULT)
LINK_REPORTS = Job("workers.jobs.link_reports", DEFAULT)
LINK_INCIDENTS = Job("workers.jobs.link_incidents", DEFAULT)
# An event's hourly risk profile (queued when an event is created or changed).
PROFILE_EVENT = Job("workers.jobs.profile_event", SIGNALS)
# A history step told to the residents who asked (e-mail), and to each subscriber system.
NOTIFY_UPDATE = Job("workers.jobs.notify_update", NOTIFY)
DELIVER_WEBHOOK = Job("workers.jobs.deliver_webhook", NOTIFY)
# The recurring jobs (``workers/cron.py``).
DRAIN_OUTBOX = Job("workers.jobs.drain_outbox", DEFAULT)
PURGE_CONTACTS = Job("workers.jobs.purge_contacts", DEFAULT)
DETECT_SIGNALS = Job("workers.jobs.detect_signals", SIGNALS)
PUBLISH_AGGREGATES = Job("workers.jobs.publish_aggregates", DEFAULT)
REBUILD_AGGREGATES = Job("workers.jobs.rebuild_aggregates", DEFAULT)
RETRAIN_CLASSIFIER = Job("workers.jobs.retrain_classifier", DEFAULT)
PROFILE_EVENTS = Job("workers.jobs.profile_events", SIGNALS)
REFRESH_DASHBOARD = Job("workers.jobs.refresh_dashboard", DEFAULT)
INVITE_QUESTIONNAIRES = Job("workers.jobs.invite_questionnaires", NOTIFY)

ALL_JOBS = (
    PROCESS_REPORT,
    LINK_REPORT,
    SUGGEST_CATEGORY,
    SCRUB_NOTE,
    SCRUB_ADDITION,
    SCRUB_BACKLOG,
    REFRESH_AGGREGATES,
    LINK_REPORTS,
    LINK_INCIDENTS,
    NOTIFY_UPDATE,
    DELIVER_WEBHOOK,
    DRAIN_OUTBOX,
    PURGE_CONTACTS,
    DETECT_SIGNALS,
    PUBLISH_AGGREGATES,
    REBUILD_AGGREGATES,
    RETRAIN_CLASSIFIER,
    PROFILE_EVENT,
    PROFILE_EVENTS,
    REFRESH_DASHBOARD,
    INVITE_QUESTIONNAIRES,
)
