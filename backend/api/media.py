"""Photos, served under their unguessable names."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("media", __name__)


@bp.get("/media/<string:name>")
def photo(name: str) -> Response:
    """A stored photo (already stripped of metadata); 404 for any other name."""
    response = send_from_directory(current_app.config["MEDIA_PATH"], name, mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
