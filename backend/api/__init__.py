"""The REST API (flask-smorest) and the media files it links to."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_api(app: Flask, api: Api) -> None:
    """Register every API blueprint on the app."""
    from backend.api import media, reports, services

    api.register_blueprint(reports.blp)
    api.register_blueprint(services.blp)
    app.register_blueprint(media.bp)
