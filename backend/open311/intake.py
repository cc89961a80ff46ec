"""POST requests: an Open311 request through Lanterne's own intake.

Intake goes through ``backend.services.reports.submit_report``, so a report from Open311 is
the same as one from /api/v1/reports: same validation, one transaction with its outbox row,
contact details in the encrypted store. What Open311 adds (attribute values, ``media_url``,
``address_id``, names and device ids) rides in that same transaction (see ``_Extras``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from cryptography.fernet import MultiFernet
from sqlmodel import Session

from backend.models import (
    ApiKey,
    Contact,
    Open311Contact,
    Open311Request,
    Service,
)
from backend.open311.catalogue import validate_attributes
from backend.open311.errors import Open311Error
from backend.open311.schemas import validation_messages
from backend.schemas.reports import ReportCreateSchema
from backend.services import reports as reports_service
from backend.services.catalogue import UnknownServiceError, get_active_service
from backend.services.contacts import ContactCipher

SOURCE = "open311"


@dataclass
class _Extras:
    """What an Open311 POST adds to the report, written in the intake's own transaction."""

    api_key_id: int | None
    attributes: dict[str, Any]
    media_url: str | None
    address_id: str | None
    personal: dict[str, str]
    fernet: MultiFernet

    def add_rows(self, session: Session, report_id: int, contact: Contact | None) -> None:
        """Our rows beside the report, committed with it by ``submit_report``."""
        session.add(
            Open311Request(
                report_id=report_id,
                api_key_id=self.api_key_id,
                attributes=self.attributes,
                media_url=self.media_url,
                address_id=self.address_id,
            )
        )
        if contact is not None and contact.id is not None and self.personal:
            token = self.fernet.encrypt(json.dumps(self.personal).encode())
            session.add(Open311Contact(contact_id=contact.id, ciphertext=token))


def _synthesised_description(service: Service, attributes: dict[str, Any]) -> str:
    # The spec makes the description optional, Lanterne's intake does not: the service's
    # name (and the attribute values) stand in for the resident's words.
    parts = [service.name_fr]
    parts += [
        f"{code}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for code, v in attributes.items()
    ]
    return " — ".join(parts)


def create_request(
    *,
    session: Session,
    form: dict[str, Any],
    attribute_fields: dict[str, list[str]],
    api_key: ApiKey,
    idempotency_key: str | None,
    settings: reports_service.IntakeSettings,
    cipher: ContactCipher,
    fernet: MultiFernet,
) -> reports_service.SubmitResult:
    """POST requests: validate against the service definition, then the foundation's intake.

    Returns the new (or replayed) report's ids and the resident's token.
    """
    code = form["service_code"]
    service = get_active_service(session=session, code=code)
    if service is None:
        raise Open311Error(404, f"service_code '{code}' not found; see services.json")
    attributes = validate_attributes(session=session, service_code=code, given=attribute_fields)
    description = (form.get("description") or "").strip() or _synthesised_description(
        service, attributes
    )
    raw: dict[str, Any] = {
        "description": description,
        "lat": form.get("lat"),
        "lon": form.get("long"),
        # With no address base to resolve it, an address_id is kept as the address text,
        # so that staff can look it up.
        "address": form.get("address_string") or form.get("address_id"),
        "service_code": code,
    }
    if form.get("email") or form.get("phone"):
        raw["contact"] = {"email": form.get("email"), "phone": form.get("phone")}
    try:
        data = ReportCreateSchema().load(raw)
    except ma.ValidationError as exc:
        raise Open311Error(400, *validation_messages(exc)) from exc
    personal = {
        name: form[name]
        for name in ("first_name", "last_name", "device_id", "account_id")
        if form.get(name)
    }
    extras = _Extras(
        api_key_id=api_key.id,
        attributes=attributes,
        media_url=form.get("media_url"),
        address_id=form.get("address_id"),
        personal=personal,
        fernet=fernet,
    )
    try:
        result = reports_service.submit_report(
            session=session,
            data=data,
            photo=None,
            idempotency_key=idempotency_key,
            settings=settings,
            cipher=cipher,
            source=SOURCE,
            add_rows=extras.add_rows,
        )
    except reports_service.OutsideCityError as exc:
        raise Open311Error(400, f"location refused: {exc}") from exc
    except UnknownServiceError as exc:
        raise Open311Error(404, str(exc)) from exc
    except reports_service.IdempotencyConflictError as exc:
        raise Open311Error(400, str(exc)) from exc
    return result
