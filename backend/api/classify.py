"""``POST /api/v1/classify``: suggest a category while the resident types."""

from __future__ import annotations

from typing import Any

import redis
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.common import fail
from backend.extensions import SERVICE_UNAVAILABLE, TOO_MANY_REQUESTS, limiter, redis_conn
from backend.schemas.classify import ClassifyRequestSchema, ClassifyResponseSchema
from backend.services.suggestions import NoWorkerAnsweredError, suggest

blp = Blueprint("classify", __name__, url_prefix="/api/v1/classify", description="Suggestions")


@blp.route("")
class Classify(MethodView):
    """Category suggestion."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_CLASSIFY"])]

    @blp.arguments(ClassifyRequestSchema)
    @blp.response(200, ClassifyResponseSchema)
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    # 503 also when no classification worker answered in time.
    @blp.alt_response(503, response=SERVICE_UNAVAILABLE)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """The 3 most likely categories for a text, with calibrated confidence."""
        if not data["text"].strip():
            fail(422, "The text cannot be only spaces.", errors={"json": {"text": ["blank"]}})
        try:
            return suggest(
                connection=redis_conn.client,
                text=data["text"],
                wait_seconds=current_app.config["CLASSIFY_WAIT_SECONDS"],
            )
        except (NoWorkerAnsweredError, redis.RedisError):
            fail(
                503,
                "No classification worker answered in time; send the report without a "
                "category or try again shortly.",
                headers={"Retry-After": "5"},
            )
