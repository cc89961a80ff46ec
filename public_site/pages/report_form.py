"""Report from a phone: ``/signaler`` (French), ``/report`` (English), and following a report.

The page works without JavaScript: a multipart form POST, CSRF-protected (Flask-WTF), rate
limited like the API's intake, filed through the same intake service
(``backend.services.reports.submit_report``). With JavaScript (``static/report.js``) it adds
the phone's position and a pin to drag, category suggestions, the open reports nearby, and a
draft kept while offline, sent through the JSON API with an ``Idempotency-Key``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_wtf.csrf import CSRFError
from sqlmodel import Session

from backend.api.reports import contact_cipher, intake_settings
from backend.extensions import db, limiter
from backend.schemas.followers import FollowSchema
from backend.schemas.reports import ReportCreateSchema
from backend.services import followers as followers_service
from backend.services import reports as reports_service
from backend.services import streets as streets_service
from backend.services.catalogue import UnknownServiceError, list_services
from backend.services.photos import PhotoRejectedError
from backend.services.tracking import tracking_url
from public_site.pages.tracking import TRACKING_RE
from public_site.site import _, bp, lang, lurl, not_found

FIELDS = (
    "description",
    "service_code",
    "address",
    "lat",
    "lon",
    "contact_email",
    "contact_phone",
    "contact_consent_notifications",
    "idempotency_key",
    "street_choice",
)
_SCHEMA = ReportCreateSchema()


def tracking_redirect(tracking_id: str, token: str) -> ResponseReturnValue:
    """Where a filed report leads: the resident's own tracking page, with their token."""
    return redirect(tracking_url(tracking_id, token, lang(), external=False), code=303)


def _intake_limit() -> str:
    return str(current_app.config["RATELIMIT_INTAKE"])


def _only_posts() -> bool:
    # Reading the form is free; filing counts against the intake limit.
    return request.method != "POST"


def _field_message(field: str) -> str:
    """The resident-facing message of a refused field, in the page's language."""
    return {
        "description": _("Describe the problem in a few words (up to 4,000 characters)."),
        "service_code": _("Choose a category from the list, or “I don't know”."),
        "lat": _("This position is not valid: use the button again or type an address."),
        "position": _("Say where it is: use your position, or type the street."),
        "address": _("The address is too long (500 characters at most)."),
        "contact_email": _("This e-mail address is not valid."),
        "contact_phone": _("This phone number is not valid."),
        "photo": _("This file is not a photo we can read (JPEG, PNG or WebP, 10 MB at most)."),
    }.get(field, _("Please check this field."))


def _errors_of(exc: ma.ValidationError) -> dict[str, str]:
    messages = exc.messages if isinstance(exc.messages, dict) else {}
    errors: dict[str, str] = {}
    for key, value in messages.items():
        if key == "contact" and isinstance(value, dict):
            for sub in value:
                errors[f"contact_{sub}"] = _field_message(f"contact_{sub}")
        elif key in ("_schema", "lon"):
            errors["position" if key == "_schema" else "lat"] = _field_message(
                "position" if key == "_schema" else "lat"
            )
        else:
            errors[str(key)] = _field_message(str(key))
    return errors


def _match_address(
    session: Session, form: dict[str, str], errors: dict[str, str]
) -> tuple[dict[str, str], list[Any]]:
    """Give a typed address the position of its street in the gazetteer.

    An exact street (the house number aside) or the resident's choice among suggestions is
    taken; else the form comes back with the streets that look like it. With no gazetteer
    imported, the address is sent as typed (staff read it).
    """
    if form.get("lat") and form.get("lon") or not form.get("address", "").strip():
        return form, []
    candidates = streets_service.match(session, form["address"], 6)
    chosen = form.get("street_choice")
    street = next((s for s in candidates if str(s.id) == chosen), None)
    if street is None and candidates:
        exact = streets_service.street_part(form["address"]) == candidates[0].folded
        street = candidates[0] if exact else None
    if street is not None:
        return {**form, "lat": str(street.lat), "lon": str(street.lon)}, []
    if candidates:
        errors["address"] = _("Which street is it? Choose it below, or type it again.")
        return form, candidates
    if streets_service.has_streets(session):
        errors["address"] = _(
            "We do not know this street in the city. Check its spelling, or use your position."
        )
    return form, []


def _file(
    form: dict[str, str], photo: bytes | None
) -> tuple[reports_service.SubmitResult | None, dict[str, str]]:
    """File the report through intake; what intake answered, or the errors to show."""
    # An empty field is "not given", as the API's form intake reads it.
    data_in = {
        k: v.strip() if k != "description" else v
        for k, v in form.items()
        if k not in ("idempotency_key", "street_choice") and (v.strip() or k == "description")
    }
    data_in["language"] = lang()
    try:
        data = _SCHEMA.load(data_in)
    except ma.ValidationError as exc:
        return None, _errors_of(exc)
    try:
        result = reports_service.submit_report(
            session=db.session,
            data=data,
            photo=photo,
            idempotency_key=form.get("idempotency_key") or None,
            settings=intake_settings(),
            cipher=contact_cipher(),
            source="web",
        )
    except UnknownServiceError:
        return None, {"service_code": _field_message("service_code")}
    except reports_service.OutsideCityError:
        return None, {"position": _("This position is outside the city: move the pin.")}
    except PhotoRejectedError:
        return None, {"photo": _field_message("photo")}
    except reports_service.IdempotencyConflictError:
        form["idempotency_key"] = secrets.token_urlsafe(18)
        return None, {"form": _("This form was already sent with other words: send it again.")}
    return result, {}


def _page(
    form: dict[str, str], errors: dict[str, str], candidates: list[Any], status: int
) -> ResponseReturnValue:
    form.setdefault("idempotency_key", secrets.token_urlsafe(18))
    services = list_services(session=db.session)
    body = render_template(
        "public/report_form.html",
        form=form,
        errors=errors,
        candidates=candidates,
        services=[(s.code, s.name(lang())) for s in services],
        about_people=[s.code for s in services if s.about_people],
        form_url=lurl("public.report_form_en" if lang() == "en" else "public.report_form"),
    )
    headers = {"Cache-Control": "private, no-store"}
    return body, status, headers


def _report_form() -> ResponseReturnValue:
    if request.method == "GET":
        return _page({}, {}, [], 200)
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        expired = {"form": _("This form had expired: check it and send it again.")}
        return _page(form, expired, [], 400)
    upload = request.files.get("photo")
    photo = (upload.read() or None) if upload is not None else None
    errors: dict[str, str] = {}
    form, candidates = _match_address(db.session, form, errors)
    if errors:
        return _page(form, errors, candidates, 400)
    result, errors = _file(form, photo)
    if result is None:
        return _page(form, errors, [], 400)
    return tracking_redirect(result.tracking_id, result.token)


def _limited(view: Callable[[], ResponseReturnValue]) -> Callable[[], ResponseReturnValue]:
    return limiter.limit(_intake_limit, exempt_when=_only_posts)(view)


@bp.route("/signaler", methods=["GET", "POST"])
@_limited
def report_form() -> ResponseReturnValue:
    """Report a problem (French unless ``?lang=en``)."""
    return _report_form()


@bp.route("/report", methods=["GET", "POST"])
@_limited
def report_form_en() -> ResponseReturnValue:
    """Report a problem, in English."""
    if request.method == "GET" and request.args.get("lang") == "fr":
        return redirect(url_for("public.report_form"), code=302)  # the language switch
    request.environ["lanterne.lang"] = "en"
    with force_locale("en"):
        return _report_form()


@bp.route("/suivi/<path:tracking_id>/suivre", methods=["POST"])
@limiter.limit(_intake_limit)
def follow_report(tracking_id: str) -> ResponseReturnValue:
    """Follow a report ("it's the same / +1") without JavaScript; back to its tracking page."""
    report = None
    if TRACKING_RE.match(tracking_id):
        report = reports_service.get_by_tracking_id(session=db.session, tracking_id=tracking_id)
    if report is None:
        not_found(_("No report has this tracking number. Check the link you received."))
    assert report is not None
    current_app.extensions["csrf"].protect()
    try:
        data = FollowSchema().load(
            {
                "email": request.form.get("email", "").strip() or None,
                "consent": request.form.get("consent") == "on",
                "language": lang(),
            }
        )
    except ma.ValidationError:
        abort(400, description=_field_message("contact_email"))
    try:
        followers_service.follow(
            session=db.session,
            cipher=contact_cipher(),
            report=report,
            **data,
        )
    except followers_service.ReportClosedError:
        return redirect(lurl("public.tracking", tracking_id=tracking_id), code=303)
    return redirect(lurl("public.tracking", tracking_id=tracking_id, suivi=1), code=303)
