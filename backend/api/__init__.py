"""The REST API (flask-smorest) and the media files it links to."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_api(app: Flask, api: Api) -> None:
    """Register every API blueprint on the app."""
    from backend.api import docs_assets, followers, media, reports, services
    from backend.open311 import views as open311

    # Before reports.blp: /reports/nearby is a path of its own, not a tracking id.
    api.register_blueprint(followers.blp)
    api.register_blueprint(followers.streets_blp)
    api.register_blueprint(reports.blp)
    from backend.api import classify

    api.register_blueprint(classify.blp)
    api.register_blueprint(services.blp)
    from backend.api import feedback
    from public_site import api as public_api

    api.register_blueprint(feedback.blp)
    api.register_blueprint(public_api.blp)
    app.register_blueprint(media.bp)
    app.register_blueprint(docs_assets.bp)
    open311.register(app, api)

    from backend.api import staff

    staff.register(api)
    from backend.api import triage

    api.register_blueprint(triage.blp)
    from backend.api import casework

    api.register_blueprint(casework.blp)
    from backend.api import signals

    api.register_blueprint(signals.blp)
    from backend.api import events

    api.register_blueprint(events.blp)
    from backend.api import event_analysis

    api.register_blueprint(event_analysis.blp)
