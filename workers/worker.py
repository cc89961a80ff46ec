"""The RQ worker class of Lanterne: models are loaded at start, not at the first job.

``rq worker -w workers.worker.LanterneWorker ...`` (the Procfile's worker). A missing or
corrupted model stops the worker at once with a message that says how to rebuild it, instead
of failing every job one by one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rq import Worker

log = logging.getLogger(__name__)


class LanterneWorker(Worker):
    """An RQ worker that loads the classifier and the scrubber before taking jobs."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """Preload the models, then work as RQ does."""
        preload_models()
        return super().work(*args, **kwargs)


def preload_models() -> None:
    """Load the models in this process; exit with a clear message if they cannot load."""
    from nlp.classifier import ClassifierLoadError
    from workers import classification
    from workers.context import job_session

    try:
        with job_session() as session:
            classification.preload(session)
    except ClassifierLoadError as exc:
        log.critical("cannot start the worker: %s", exc)
        sys.exit(f"Lanterne worker not started: {exc}")
