"""The classifier and scrubber of a worker process: loaded once, swapped when a model is promoted.

The web process never imports this module (it would load spaCy).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlmodel import Session

from backend.services.classification import active_model
from nlp.classifier import Classifier, ClassifierLoadError
from nlp.scrub import Scrubber

log = logging.getLogger(__name__)

# How often a worker asks the database which model is active (a promoted model is picked up
# within this delay, without a restart).
CHECK_EVERY = 30.0


@dataclass
class _Loaded:
    location: str | None
    classifier: Classifier
    checked: float


_lock = threading.Lock()
_state: dict[str, _Loaded] = {}
_scrubber: list[Scrubber] = []


def classifier(session: Session) -> Classifier:
    """The worker's classifier: the active recorded model, or the built package by default.

    Raises ClassifierLoadError (a clear message, at the first job) when no model loads.
    """
    now = time.monotonic()
    with _lock:
        loaded = _state.get("current")
        if loaded is not None and now - loaded.checked < CHECK_EVERY:
            return loaded.classifier
        row = active_model(session=session)
        location = row.location if row is not None else None
        if loaded is not None and loaded.location == location:
            loaded.checked = now
            return loaded.classifier
        try:
            model = Classifier.load(location)
        except ClassifierLoadError:
            if loaded is None:
                raise
            log.exception("promoted model %s does not load; keeping %s", location, loaded.location)
            loaded.checked = now
            return loaded.classifier
        _state["current"] = _Loaded(location=location, classifier=model, checked=now)
        log.info("classifier %s loaded from %s", model.model_version, location or "the package")
        return model


def scrubber() -> Scrubber:
    """The worker's personal-data scrubber, loaded once."""
    with _lock:
        if not _scrubber:
            _scrubber.append(Scrubber.load())
        return _scrubber[0]


def preload(session: Session) -> None:
    """Load both models now (worker start): a broken model fails here, not once per job."""
    classifier(session)
    scrubber()


def reset() -> None:
    """Forget the loaded models (tests)."""
    with _lock:
        _state.clear()
        _scrubber.clear()
