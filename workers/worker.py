"""The RQ worker class of Lanterne: models are loaded at start, not at the first job.

``rq worker -w workers.worker.LanterneWorker ...`` (the Procfile's worker). A missing or
corrupted model stops the worker at once with a message that says how to rebuild it, instead
of failing every job one by one.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from typing import Any

from rq import SimpleWorker

log = logging.getLogger(__name__)
# prctl(2)'s option number, from <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


class LanterneWorker(SimpleWorker):
    """An RQ worker that loads the classifier and the scrubber before taking jobs.

    Jobs run in the worker process itself (RQ's ``SimpleWorker``), not in a process forked per
    job: the models stay loaded, a promoted model is loaded once (not in every forked child),
    and database and Redis connections are pooled across jobs. At 50 reports a second a fork,
    a new database connection and a model check per job cost more than the job itself. The
    price: a job that crashes the interpreter stops the worker, which the process manager
    (Procfile, systemd) restarts; job timeouts are still enforced (SIGALRM, as RQ does).
    """

    # RQ doubles its pause after each failed look at Redis, up to a minute by default: a
    # restarted Redis would wait that long for its worker. Five seconds at most.
    max_connection_wait_time = 5.0

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """Check the database, preload the models, then work as RQ does."""
        refuse_unmigrated_database()
        preload_models()
        os.register_at_fork(after_in_child=_die_with_parent)
        return super().work(*args, **kwargs)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this forked process when its parent dies.

    The worker forks one process, RQ's scheduler. If the worker is killed (kill -9, the OOM
    killer), the scheduler would live on as an orphan, holding the scheduler's locks and a
    copy of the worker's Redis connection, on which Redis would still hand the dead worker's
    pending BLPOP a job that nobody then runs (``queued`` in no queue). With this, it stops
    at once, gracefully (RQ's SIGTERM handler releases its locks).
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def refuse_unmigrated_database() -> None:
    """Exit with one line if the database is not at the latest migration."""
    from backend import migrate
    from workers.context import worker_app

    if problem := migrate.not_migrated(worker_app().config["DATABASE_URL"]):
        sys.exit(f"Lanterne worker not started: {problem}")


def preload_models() -> None:
    """Load the models in this process; exit with a clear message if they cannot load."""
    from threadpoolctl import threadpool_limits

    from nlp.classifier import ClassifierLoadError

    # One BLAS thread: a worker runs one job at a time on short texts, where OpenBLAS's threads
    # only spin against each other and against the other processes on the machine (scrubbing
    # one report took 27 ms with them on a busy 2-core machine, 2.3 ms without). Scale by
    # running more worker processes.
    threadpool_limits(limits=1, user_api="blas")
    from workers import classification
    from workers.context import job_session

    try:
        with job_session() as session:
            classification.preload(session)
    except ClassifierLoadError as exc:
        log.critical("cannot start the worker: %s", exc)
        sys.exit(f"Lanterne worker not started: {exc}")
