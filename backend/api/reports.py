"""Report intake and tracking for residents' apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.common import fail
from backend.extensions import TOO_MANY_REQUESTS, db, limiter
from backend.schemas.reports import (
    IdempotencyHeaderSchema,
    ReportCreatedSchema,
    ReportCreateSchema,
    ReportFormSchema,
    ReportMultipartSchema,
    ReportPublicSchema,
    TrackingQuerySchema,
)
from backend.services import reports as reports_service
from backend.services import tracking
from backend.services.catalogue import UnknownServiceError
from backend.services.contacts import ContactCipher, load_keys
from backend.services.photos import PhotoRejectedError


class _Blueprint(Blueprint):
    # webargs' ``json_or_form`` reads a JSON body, or else a form: documented as the JSON
    # requestBody, the form variants added beside it (FORM_BODIES). OpenAPI has no
    # ``in: json_or_form`` parameter.
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "json_or_form": "application/json",
    }


blp = _Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Reports")

FORM_BODIES = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": ReportMultipartSchema,
                "encoding": {"photo": {"contentType": "image/jpeg, image/png, image/webp"}},
            },
            "application/x-www-form-urlencoded": {"schema": ReportFormSchema},
        }
    }
}


def intake_settings() -> reports_service.IntakeSettings:
    """Intake settings from the app's configuration."""
    return reports_service.IntakeSettings.from_config(current_app.config)


def contact_cipher() -> ContactCipher:
    """The app's contact cipher, built once."""
    cipher = current_app.extensions.get("lanterne.contact_cipher")
    if cipher is None:
        keys = load_keys(current_app.config["CONTACT_KEYS"], Path(current_app.instance_path))
        cipher = current_app.extensions["lanterne.contact_cipher"] = ContactCipher(keys)
    return cipher


def created_body(result: reports_service.SubmitResult) -> dict[str, Any]:
    """The 201 body for a report (the same on an idempotent replay)."""
    tracking_id = result.tracking_id
    return {
        "tracking_id": tracking_id,
        # The resident's own page: the token opens their text, photo and history.
        "token": result.token,
        "tracking_url": tracking.tracking_url(tracking_id, result.token),
        "api_url": url_for("reports.Tracking", tracking_id=tracking_id, _external=True),
        "status": "received",
        "created_at": result.created_at,
    }


def _uploaded_photo() -> bytes | None:
    # Read from the multipart body; its type is judged from its bytes, never its header.
    # A JSON body has no files: not asking spares building an empty form per request.
    if request.mimetype != "multipart/form-data":
        return None
    upload = request.files.get("photo")
    return (upload.read() or None) if upload is not None else None


@blp.route("")
class Reports(MethodView):
    """Intake."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_INTAKE"])]

    # Schema instances, not classes: webargs would build (and deep-copy) one per request.
    @blp.arguments(IdempotencyHeaderSchema(), location="headers")
    @blp.arguments(ReportCreateSchema(), location="json_or_form")
    @blp.response(201, ReportCreatedSchema)
    @blp.alt_response(400, description="Malformed body, bad photo, position outside the city")
    @blp.alt_response(409, description="An Idempotency-Key reused with another body")
    @blp.alt_response(413, description="Body larger than allowed")
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    @blp.doc(**FORM_BODIES)
    def post(self, headers: dict[str, Any], data: dict[str, Any]) -> tuple[Any, int, Any]:
        """Report a problem. Send JSON, or multipart with a ``photo`` (JPEG, PNG, WebP)."""
        try:
            result = reports_service.submit_report(
                session=db.session,
                data=data,
                photo=_uploaded_photo(),
                idempotency_key=headers.get("idempotency_key"),
                settings=intake_settings(),
                cipher=contact_cipher(),
            )
        except UnknownServiceError as exc:
            fail(400, str(exc), errors={"json": {"service_code": [str(exc)]}})
        except reports_service.OutsideCityError as exc:
            fail(400, f"Position refused: {exc}.", errors={"json": {"lat": [str(exc)]}})
        except PhotoRejectedError as exc:
            fail(400, f"Photo refused: {exc}.", errors={"files": {"photo": [str(exc)]}})
        except reports_service.IdempotencyConflictError as exc:
            fail(409, str(exc))
        body = created_body(result)
        headers_out = {"Location": body["api_url"]}
        if result.replayed:
            headers_out["Idempotent-Replayed"] = "true"
        return body, 201, headers_out


@blp.route("/<tracking:tracking_id>")
class Tracking(MethodView):
    """Tracking one's own report."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])]

    @blp.arguments(TrackingQuerySchema(), location="query")
    @blp.response(200, ReportPublicSchema)
    @blp.alt_response(404, description="No report with this tracking id")
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def get(self, args: dict[str, Any], tracking_id: str) -> dict[str, Any]:
        """Status, category and public history of a report; never any personal data.

        With the resident's token (``t``), also their scrubbed text and their photo's URL.
        """
        session = db.session
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
        if report is None:
            fail(404, "No report has this tracking id.")
        view = reports_service.public_view(session=session, report=report)
        token = args.get("t")
        if token is not None and tracking.token_matches(report, token):
            private = tracking.private_view(session=session, report=report, token=token)
            view["description_public"] = private["description_public"]
            view["photo_url"] = private["photo_url"]
        return view


@blp.route("/<tracking:tracking_id>/contact")
class TrackingContact(MethodView):
    """The resident's own contact details."""

    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_TRACKING"])]

    @blp.arguments(TrackingQuerySchema(), location="query")
    @blp.response(204)
    @blp.alt_response(404, description="No report has this tracking id, or not this token")
    @blp.alt_response(429, response=TOO_MANY_REQUESTS)
    def delete(self, args: dict[str, Any], tracking_id: str) -> None:
        """Withdraw one's contact details: the report stays, the city can no longer reach you.

        Only with the resident's token (``t``): tracking ids are shown to other residents (the
        reports nearby a new one), so the id alone must not let anyone act on a report.
        """
        session = db.session
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
        if report is None or not tracking.token_matches(report, args.get("t")):
            fail(404, "No report has this tracking id and token.")
        reports_service.forget_contact(session=session, tracking_id=tracking_id)
