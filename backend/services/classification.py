"""Classification results, triage corrections (gold labels) and model versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Report
from backend.models.nlp import CategoryCorrection, ModelVersion
from backend.services.catalogue import get_active_service


class UnknownCategoryError(ValueError):
    """A category that is not in the catalogue."""


def correct_category(
    *, session: Session, report: Report, service_code: str, author: str | None
) -> CategoryCorrection:
    """Set a report's category by hand and keep it as a gold label for retraining."""
    if get_active_service(session=session, code=service_code) is None:
        raise UnknownCategoryError(f"unknown service_code '{service_code}'")
    assert report.id is not None
    correction = CategoryCorrection(
        report_id=report.id,
        text=report.description,
        predicted_code=report.predicted_code,
        service_code=service_code,
        author=author,
    )
    report.service_code = service_code
    report.needs_triage = False
    report.updated_at = utcnow()
    session.add(report)
    session.add(correction)
    session.commit()
    return correction


def gold_examples(*, session: Session) -> list[tuple[str, str]]:
    """Every correction as (text, service_code), the latest one per report."""
    latest: dict[int, CategoryCorrection] = {}
    for row in session.exec(select(CategoryCorrection).order_by(col(CategoryCorrection.id))):
        latest[row.report_id] = row
    return [(c.text, c.service_code) for c in latest.values()]


def active_model(*, session: Session) -> ModelVersion | None:
    """The model version in use, if one was recorded."""
    return session.exec(select(ModelVersion).where(col(ModelVersion.active).is_(True))).first()


def record_model(
    *,
    session: Session,
    version: str,
    location: str,
    metrics: dict[str, Any],
    corrections_used: int,
    promote: bool,
) -> ModelVersion:
    """Record a trained model with its metrics; make it the active one if ``promote``."""
    row = ModelVersion(
        version=version,
        location=location,
        macro_f1=float(metrics["macro_f1"]),
        metrics=metrics,
        corrections_used=corrections_used,
    )
    if promote:
        for current in session.exec(select(ModelVersion).where(col(ModelVersion.active).is_(True))):
            current.active = False
            session.add(current)
        row.active = True
        row.promoted_at = utcnow()
    session.add(row)
    session.commit()
    return row


def apply_prediction(
    *,
    report: Report,
    service_code: str,
    confidence: float,
    top: Sequence[tuple[str, float]],
    model_version: str,
    language: str,
    needs_triage: bool,
    public_text: str,
) -> None:
    """Store a classification on a report; the resident's hint stays beside it."""
    report.predicted_code = service_code
    report.confidence = confidence
    report.top_predictions = [{"service_code": c, "confidence": p} for c, p in top]
    report.model_version = model_version
    report.language = report.language or language
    report.description_public = public_text
    if report.service_code is None:
        report.service_code = service_code
        report.needs_triage = needs_triage
    # else: the category was already settled (a staff correction made before the worker ran,
    # an imported report): the prediction is kept beside it and sends nothing to triage.
