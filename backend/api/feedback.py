"""The resident's questionnaire once the city says a report is fixed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.common import fail
from backend.extensions import TOO_MANY_REQUESTS, db, limiter
from backend.schemas.feedback import FeedbackCreatedSchema, FeedbackCreateSchema
from backend.schemas.reports import TrackingQuerySchema
from backend.services import feedback as feedback_service
from backend.services import reports as reports_service
from backend.services import tracking

blp = Blueprint(
    "feedback", __name__, url_prefix="/api/v1/reports", description="Resident questionnaire"
)


@blp.route("/<tracking:tracking_id>/feedback")
class ReportFeedback(MethodView):
    """ "Is it really fixed?": answered once, after the city says fixed."""

    decorators = [
        limiter.limit(
            lambda: current_app.config["RATELIMIT_FEEDBACK"],
            key_func=lambda: request.remote_addr or "",
        )
    ]

    @blp.arguments(FeedbackCreateSchema, error_status_code=400)
    @blp.arguments(TrackingQuerySchema(), location="query")
    @blp.response(201, FeedbackCreatedSchema)
    @blp.alt_response(404, description="No report with this tracking id, or not its token")
    @blp.alt_response(409, description="Not fixed yet, or already answered")
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def post(self, data: dict[str, Any], args: dict[str, Any], tracking_id: str) -> dict[str, Any]:
        """Answer the questionnaire: fixed or not, satisfaction 1-5, a comment for the staff.

        "Not fixed" within the reopening window after the fix reopens the report
        (``reopened``: true, ``status``: open).
        """
        session = db.session
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
        # The resident's token (``t``) is needed when the report has one: tracking ids are
        # shown to other residents (the reports nearby a new one).
        if report is None or (
            report.token_hash is not None and not tracking.token_matches(report, args.get("t"))
        ):
            fail(404, "No report has this tracking id and token.")
        try:
            answer = feedback_service.submit_feedback(
                session=session,
                report=report,
                reopen_window=timedelta(days=current_app.config["FEEDBACK_REOPEN_DAYS"]),
                **data,
            )
        except feedback_service.FeedbackError as exc:
            fail(409 if exc.code in ("not_fixed", "already") else 400, str(exc))
        return {
            "tracking_id": report.tracking_id,
            "fixed": answer.fixed,
            "satisfaction": answer.satisfaction,
            "reopened": answer.reopened,
            "status": report.status,
            "created_at": answer.created_at,
        }
