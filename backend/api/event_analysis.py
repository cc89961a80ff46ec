"""An event's analysis for staff: hourly risk profile, staffing suggestion, observed.

Read only: the numbers are computed by the workers (``workers.events``) and stored; while the
job has not run, the answer is 202 with Retry-After. Analysts, supervisors and admins see
them; for an agent, as for anyone without the role, an event does not exist (404).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.auth import current_staff, fail, roles_required, visible_or_404
from backend.extensions import db
from backend.models import Event, EventProfile
from backend.schemas.event_analysis import ObservedSchema, ProfileSchema, StaffingSchema
from backend.services import event_analysis, event_staffing

blp = Blueprint(
    "event_analysis",
    __name__,
    url_prefix="/api/v1/events",
    description="Events: hourly risk profile, staffing suggestion, observed after the event.",
)

NOT_FOUND = "No event has this id."
RETRY_AFTER_SECONDS = 30


def _event_and_row(event_id: int) -> tuple[Event, EventProfile | None]:
    staff = current_staff()
    event = visible_or_404(
        db.session.get(Event, event_id),
        staff.role in event_analysis.ANALYSIS_ROLES,
        message=NOT_FOUND,
    )
    return event, event_analysis.stored_profile(db.session, event_id)


def _pending() -> Response:
    """202 Accepted: the job has not stored the analysis yet (flask-smorest passes a
    ``Response`` through unserialised)."""
    response = jsonify(
        code=202,
        status="Accepted",
        message="The analysis of this event is being computed; ask again shortly.",
    )
    response.status_code = 202
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@blp.route("/<dbint:event_id>/profile")
class Profile(MethodView):
    """The hourly risk profile."""

    @roles_required()
    @blp.response(200, ProfileSchema)
    @blp.alt_response(202, description="Not computed yet (Retry-After)")
    @blp.alt_response(404, description="No such event")
    def get(self, event_id: int) -> Any:
        """Expected incidents and reports per hour and family, with 90 % prediction intervals.

        From a few hours before the start to a few hours after the end, inside the place and
        in the ring around it; ``status`` is ``insufficient_history`` (and ``series`` empty)
        when too few past events of the kind are known.
        """
        event, row = _event_and_row(event_id)
        if row is None:
            return _pending()
        return event_analysis.profile_answer(event, row)


@blp.route("/<dbint:event_id>/staffing")
class Staffing(MethodView):
    """The staffing suggestion."""

    @roles_required()
    @blp.response(200, StaffingSchema)
    @blp.alt_response(202, description="Not computed yet (Retry-After)")
    @blp.alt_response(404, description="No such event")
    def get(self, event_id: int) -> Any:
        """Agents and barriers per hour from the profile and the city's ratios, with reasons,
        and the median deployed at past similar events."""
        event, row = _event_and_row(event_id)
        if row is None:
            return _pending()
        rules = event_staffing.load_rules(current_app.config.get("EVENT_STAFFING_RULES"))
        return event_staffing.suggest(
            session=db.session,
            event=event,
            row=row,
            rules=rules,
            timezone=current_app.config["PUBLIC_TIMEZONE"],
        )


@blp.route("/<dbint:event_id>/observed")
class Observed(MethodView):
    """After the event."""

    @roles_required()
    @blp.response(200, ObservedSchema)
    @blp.alt_response(202, description="Not computed yet (Retry-After)")
    @blp.alt_response(404, description="No such event")
    @blp.alt_response(409, description="The event is not over yet")
    def get(self, event_id: int) -> Any:
        """Observed counts per hour against the profile, and the space-time scan's verdict."""
        event, row = _event_and_row(event_id)
        if row is None:
            return _pending()
        if row.observed is None:
            fail(409, "The event is not over yet: observed figures come after its last hour.")
        assert row.observed is not None
        return {"event_id": event.id, "observed_at": row.observed_at, **row.observed}
