"""RQ's own cron (``rq cron workers.cron``): the recurring jobs."""

from rq import cron

from workers import jobs

# Jobs written while Redis was down wait in the outbox; this brings them to the queues.
cron.register(jobs.drain_outbox, queue_name="default", interval=10)
