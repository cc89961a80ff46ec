"""Category suggestions: asked of a worker, since the web process never loads spaCy."""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from rq import Queue

from backend.jobs import SUGGEST_CATEGORY


class NoWorkerAnsweredError(RuntimeError):
    """No worker answered in time (none running, or all busy)."""


def suggest(*, connection: redis.Redis, text: str, wait_seconds: float) -> dict[str, Any]:
    """Enqueue the text on the ``high`` queue and block until a worker answers.

    Raises NoWorkerAnsweredError after ``wait_seconds``; the job is then cancelled so that a
    backlog of stale suggestions never builds up.
    """
    queue = Queue(SUGGEST_CATEGORY.queue, connection=connection)
    job = queue.enqueue(
        SUGGEST_CATEGORY.path, text, job_timeout=10, result_ttl=60, ttl=int(wait_seconds) + 1
    )
    result = job.latest_result(timeout=max(1, round(wait_seconds)))
    if result is None or result.type != result.Type.SUCCESSFUL:
        # Best effort: the job may have finished in between, which is fine.
        with contextlib.suppress(Exception):
            job.cancel()
        raise NoWorkerAnsweredError("no classification worker answered in time")
    value = result.return_value
    if not isinstance(value, dict):
        raise NoWorkerAnsweredError("the classification worker gave no answer")
    return value
