"""RQ's own cron (``rq cron workers.cron``): the recurring jobs, on the queues of backend.jobs."""

from rq import cron

from backend.jobs import (
    DETECT_SIGNALS,
    DRAIN_OUTBOX,
    INVITE_QUESTIONNAIRES,
    PROFILE_EVENTS,
    PUBLISH_AGGREGATES,
    PURGE_CONTACTS,
    REBUILD_AGGREGATES,
    REFRESH_DASHBOARD,
    RETRAIN_CLASSIFIER,
)
from workers import jobs

# Jobs written while Redis was down wait in the outbox; this brings them to the queues.
cron.register(jobs.drain_outbox, queue_name=DRAIN_OUTBOX.queue, interval=10)
# Contact details go once a report is closed and the grace period is over.
cron.register(jobs.purge_contacts, queue_name=PURGE_CONTACTS.queue, cron="15 3 * * *")
# Weak signals on yesterday's data, at dawn (a 13-service scan takes under a minute).
cron.register(
    jobs.detect_signals, queue_name=DETECT_SIGNALS.queue, cron="30 5 * * *", job_timeout=1800
)
# The public site's snapshot: republished within five minutes of a change (a no-op otherwise;
# the raw aggregates are refreshed at once), and every aggregate rebuilt from scratch at night.
cron.register(
    jobs.publish_aggregates, queue_name=PUBLISH_AGGREGATES.queue, interval=300, job_timeout=1800
)
cron.register(
    jobs.rebuild_aggregates,
    queue_name=REBUILD_AGGREGATES.queue,
    cron="45 2 * * *",
    job_timeout=3600,
)
# The staff dashboard's figures: seconds of grouped queries at a million reports, so computed
# here and stored; the pages and the API read the stored ones (at most 5 minutes old).
cron.register(
    jobs.refresh_dashboard, queue_name=REFRESH_DASHBOARD.queue, interval=300, job_timeout=600
)
# The classifier learns from the week's triage corrections (Sunday night; a few minutes of
# training, skipped when there is no new correction; promoted only if macro-F1 does not drop).
cron.register(
    jobs.retrain_classifier,
    queue_name=RETRAIN_CLASSIFIER.queue,
    cron="0 4 * * 0",
    kwargs={"only_if_new": True},
    job_timeout=3600,
)
# Event profiles: upcoming events are refitted on the day's new data, those just over get
# their observed side and scan (after the signals, on the same queue).
cron.register(
    jobs.profile_events, queue_name=PROFILE_EVENTS.queue, cron="15 6 * * *", job_timeout=3600
)
# Reporters of reports fixed some days ago are invited to the questionnaire, once (hourly).
cron.register(jobs.invite_questionnaires, queue_name=INVITE_QUESTIONNAIRES.queue, cron="20 * * * *")
