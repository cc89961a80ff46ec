"""The feedback loop: triage corrections become training data for the next model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import current_app
from sqlmodel import Session

from backend.db import utcnow
from backend.services.classification import active_model, gold_examples, record_model
from nlp.classifier import Classifier
from nlp.training import evaluate_model, load_split, retrain, should_promote

log = logging.getLogger(__name__)


def current_metrics(session: Session) -> dict[str, Any] | None:
    """Test metrics of the model in use: the recorded active one, else the built package."""
    row = active_model(session=session)
    if row is not None:
        return row.metrics
    try:
        Classifier.load()
    except Exception:  # noqa: BLE001 (no model at all: anything beats it)
        return None
    return evaluate_model_default()


def evaluate_model_default() -> dict[str, Any]:
    """Metrics of the default (built) model on the frozen test split."""
    from nlp.classifier import default_model

    return evaluate_model(default_model(), load_split("test"))


def retrain_and_maybe_promote(
    *, session: Session, seed: int = 0, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train a new model with every correction, record it, promote it if it is no worse."""
    examples = gold_examples(session=session)
    version = utcnow().strftime("%Y%m%d%H%M%S")
    models_dir = Path(current_app.instance_path) / "models"
    output = models_dir / version
    result = retrain(examples, output, seed=seed, version=f"0.1.{version}", overrides=overrides)
    before = current_metrics(session)
    promote = should_promote(result, before)
    record_model(
        session=session,
        version=version,
        location=str(output),
        metrics=result.metrics,
        corrections_used=len(examples),
        promote=promote,
    )
    summary = {
        "version": version,
        "macro_f1": result.macro_f1,
        "previous_macro_f1": before["macro_f1"] if before else None,
        "corrections_used": len(examples),
        "promoted": promote,
        "location": str(output),
    }
    log.info("retrain: %s", summary)
    return summary
