"""Duplicates before filing (``/api/v1/reports/nearby``), following a report, and streets."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.common import fail
from backend.api.reports import contact_cipher
from backend.extensions import TOO_MANY_REQUESTS, db, limiter
from backend.schemas.followers import (
    FollowedSchema,
    FollowSchema,
    NearbyQuerySchema,
    NearbyReportSchema,
    StreetQuerySchema,
    StreetSchema,
)
from backend.services import followers as followers_service
from backend.services import reports as reports_service
from backend.services import streets as streets_service
from backend.services.nearby import nearby_open_reports

blp = Blueprint(
    "followers",
    __name__,
    url_prefix="/api/v1/reports",
    description="Duplicates before filing: open reports nearby, and following one",
)
streets_blp = Blueprint(
    "streets", __name__, url_prefix="/api/v1/streets", description="The city's streets"
)


@blp.route("/nearby")
class Nearby(MethodView):
    """Open reports of a category near a point."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])]

    @blp.arguments(NearbyQuerySchema(), location="query")
    @blp.response(200, NearbyReportSchema(many=True))
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def get(self, query: dict[str, Any]) -> list[Any]:
        """Open reports of this category within ``radius_m``, nearest first (at most 10).

        Privacy-safe: never a category about people (noise, public order: the list is
        empty), never a position (distances between ~50 m cells, rounded to 10 m), only the
        scrubbed text.
        """
        return nearby_open_reports(session=db.session, **query)  # type: ignore[arg-type]


@blp.route("/<tracking:tracking_id>/follow")
class Follow(MethodView):
    """Follow a report: "it's the same: follow it / +1"."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_INTAKE"])]

    @blp.arguments(FollowSchema())
    @blp.response(201, FollowedSchema)
    @blp.alt_response(404, description="No report has this tracking id")
    @blp.alt_response(409, description="The report is closed")
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def post(self, data: dict[str, Any], tracking_id: str) -> dict[str, Any]:
        """Follow an open report; the same e-mail twice is one follower."""
        session = db.session
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
        if report is None:
            fail(404, "No report has this tracking id.")
        try:
            count = followers_service.follow(
                session=session, cipher=contact_cipher(), report=report, **data
            )
        except followers_service.ReportClosedError as exc:
            fail(409, f"This report is closed: {exc}. Report the problem again if it is back.")
        return {"followers": count, "notifications": bool(data["email"])}


@streets_blp.route("")
class Streets(MethodView):
    """Street names for a typed address (autocomplete)."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])]

    @streets_blp.arguments(StreetQuerySchema(), location="query")
    @streets_blp.response(200, StreetSchema(many=True))
    @streets_blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def get(self, query: dict[str, Any]) -> list[Any]:
        """Streets matching ``q`` (accents and case ignored, a house number in front too),
        exact name first, then names starting with it, then names holding it."""
        return streets_service.match(db.session, query["q"], query["limit"])
