"""Open311 GeoReport v2 on top of Lanterne's own services: catalogue, intake, status history.

Intake goes through ``backend.services.reports.submit_report``, so a report from Open311 is
the same as one from /api/v1/reports: same validation, one transaction with its outbox row,
contact details in the encrypted store. What Open311 adds (attribute values, ``media_url``,
``address_id``, names and device ids) rides in that same transaction (see ``_intake_hooks``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
import marshmallow as ma
from cryptography.fernet import MultiFernet
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import (
    ApiKey,
    Area,
    Contact,
    ExternalUpdate,
    Open311Contact,
    Open311Request,
    Report,
    ReportStatus,
    ReportUpdate,
    Service,
    ServiceAttribute,
)
from backend.schemas.open311 import parse_w3c, validation_messages, w3c
from backend.schemas.reports import ReportCreateSchema
from backend.services import feedback as feedback_service
from backend.services import public_notes
from backend.services import reports as reports_service
from backend.services.catalogue import get_active_service, list_services
from backend.services.contacts import ContactCipher
from backend.services.reports import public_position
from backend.services.workflow import CLOSED_STATUSES, UPDATE_STATUS_IN, UPDATE_STATUS_OUT

MAX_WINDOW = timedelta(days=90)
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
SOURCE = "open311"


class Open311Error(Exception):
    """An error the spec's way: an HTTP status and one or more human descriptions."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions) or ["error"]


# --- service definitions ------------------------------------------------------------------

# service code -> attributes: (code, datatype, required, description fr, en, values, variable)
_Values = list[tuple[str, str, str]]
DEFAULT_ATTRIBUTES: dict[str, list[tuple[str, str, bool, str, str, _Values | None, bool]]] = {
    "streetlight": [
        (
            "pole_number",
            "string",
            False,
            "Numéro du candélabre (plaque sur le poteau), si visible",
            "Lamp-post number (plate on the post), if visible",
            None,
            True,
        ),
        (
            "lights_out",
            "singlevaluelist",
            False,
            "Combien de lampadaires sont éteints ?",
            "How many lights are out?",
            [
                ("one", "Un seul", "Just one"),
                ("several", "Plusieurs", "Several"),
                ("street", "Toute la rue", "The whole street"),
            ],
            True,
        ),
    ],
    "traffic_signal": [
        (
            "danger_notice",
            "text",
            False,
            "Feu éteint à un carrefour dangereux : appelez aussi le 17.",
            "Lights out at a dangerous crossing: also call 17.",
            None,
            False,
        ),
        (
            "intersection",
            "string",
            False,
            "Carrefour (les deux rues)",
            "Crossing (both streets)",
            None,
            True,
        ),
    ],
    "road_damage": [
        (
            "size",
            "singlevaluelist",
            True,
            "Taille du dégât",
            "Size of the damage",
            [
                ("small", "Petit (moins de 30 cm)", "Small (under 30 cm)"),
                ("medium", "Moyen (30 cm à 1 m)", "Medium (30 cm to 1 m)"),
                ("large", "Grand (plus d'1 m)", "Large (over 1 m)"),
            ],
            True,
        ),
        (
            "surface",
            "singlevaluelist",
            False,
            "Où ?",
            "Where?",
            [
                ("road", "Chaussée", "Road"),
                ("pavement", "Trottoir", "Pavement"),
                ("cycle_lane", "Piste cyclable", "Cycle lane"),
            ],
            True,
        ),
    ],
    "graffiti": [
        (
            "offensive",
            "singlevaluelist",
            False,
            "Le tag est-il injurieux ou haineux ?",
            "Is the graffiti offensive or hateful?",
            [("yes", "Oui", "Yes"), ("no", "Non", "No")],
            True,
        ),
        (
            "area_m2",
            "number",
            False,
            "Surface approximative (m²)",
            "Approximate area (m²)",
            None,
            True,
        ),
    ],
    "illegal_dumping": [
        (
            "volume",
            "singlevaluelist",
            False,
            "Volume du dépôt",
            "Volume of the dumping",
            [
                ("small", "Quelques sacs", "A few bags"),
                ("medium", "Un meuble, un appareil", "A piece of furniture, an appliance"),
                ("large", "Plus d'un mètre cube", "Over a cubic metre"),
            ],
            True,
        ),
    ],
    "waste_bins": [
        (
            "bin_type",
            "multivaluelist",
            False,
            "Quels bacs ?",
            "Which bins?",
            [
                ("household", "Ordures ménagères", "Household waste"),
                ("recycling", "Tri sélectif", "Recycling"),
                ("glass", "Verre", "Glass"),
                ("street_bin", "Corbeille de rue", "Street litter bin"),
            ],
            True,
        ),
    ],
    "abandoned_vehicle": [
        (
            "vehicle_type",
            "singlevaluelist",
            False,
            "Type de véhicule",
            "Kind of vehicle",
            [
                ("car", "Voiture", "Car"),
                ("motorbike", "Deux-roues", "Motorbike or scooter"),
                ("van", "Camionnette", "Van"),
                ("other", "Autre", "Other"),
            ],
            True,
        ),
        (
            "seen_since",
            "datetime",
            False,
            "Vu à cet endroit depuis (date)",
            "Seen there since (date)",
            None,
            True,
        ),
    ],
    "noise": [
        (
            "started_at",
            "datetime",
            False,
            "Début de la nuisance",
            "When the noise started",
            None,
            True,
        ),
    ],
    "street_furniture": [
        (
            "item",
            "singlevaluelist",
            False,
            "Quel mobilier ?",
            "Which item?",
            [
                ("bench", "Banc", "Bench"),
                ("bollard", "Potelet, borne", "Bollard"),
                ("bike_rack", "Arceau vélo", "Bike rack"),
                ("shelter", "Abribus", "Bus shelter"),
                ("other", "Autre", "Other"),
            ],
            True,
        ),
    ],
    "water_leak": [
        (
            "severity",
            "singlevaluelist",
            False,
            "Importance",
            "Severity",
            [
                ("drip", "Suintement", "Dripping"),
                ("flow", "Écoulement", "Running water"),
                ("flood", "Inondation", "Flooding"),
            ],
            True,
        ),
    ],
}


def default_attribute_rows() -> list[ServiceAttribute]:
    """The default catalogue's attributes, as rows (not yet added to a session)."""
    rows = []
    for service_code, attributes in DEFAULT_ATTRIBUTES.items():
        for order, (code, datatype, required, fr, en, values, variable) in enumerate(
            attributes, start=1
        ):
            rows.append(
                ServiceAttribute(
                    service_code=service_code,
                    code=code,
                    variable=variable,
                    datatype=datatype,
                    required=required,
                    sort_order=order,
                    description_fr=fr,
                    description_en=en,
                    values=[{"key": k, "name_fr": nf, "name_en": ne} for k, nf, ne in values]
                    if values
                    else None,
                )
            )
    return rows


def ensure_default_attributes(*, session: Session) -> int:
    """Insert the default attributes when the attribute table is empty; return rows added."""
    if session.exec(select(ServiceAttribute).limit(1)).first() is not None:
        return 0
    rows = default_attribute_rows()
    session.add_all(rows)
    session.commit()
    return len(rows)


def _attributes_by_service(session: Session) -> dict[str, list[ServiceAttribute]]:
    stmt = select(ServiceAttribute).order_by(
        col(ServiceAttribute.service_code), col(ServiceAttribute.sort_order)
    )
    out: dict[str, list[ServiceAttribute]] = {}
    for attribute in session.exec(stmt):
        out.setdefault(attribute.service_code, []).append(attribute)
    return out


def _localised(fr: str, en: str, lang: str) -> str:
    return en if lang == "en" and en else fr


def service_list(*, session: Session, lang: str) -> list[dict[str, Any]]:
    """GET services: the active catalogue, in catalogue order."""
    with_attributes = _attributes_by_service(session)
    return [
        {
            "service_code": service.code,
            "service_name": service.name(lang),
            "description": _localised(service.description_fr, service.description_en, lang),
            "metadata": bool(with_attributes.get(service.code)),
            "type": "realtime",
            "keywords": "",
            "group": service.group,
        }
        for service in list_services(session=session)
    ]


def _attribute_view(attribute: ServiceAttribute, lang: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": _localised(
            attribute.datatype_description_fr, attribute.datatype_description_en, lang
        )
        or None,
        "order": attribute.sort_order,
        "description": _localised(attribute.description_fr, attribute.description_en, lang),
    }
    if attribute.datatype in ("singlevaluelist", "multivaluelist"):
        view["values"] = [
            {"key": v["key"], "name": _localised(v["name_fr"], v.get("name_en", ""), lang)}
            for v in attribute.values or []
        ]
    return view


def service_definition(*, session: Session, code: str, lang: str) -> dict[str, Any]:
    """GET services/{code}: the attributes a request for this service carries."""
    if get_active_service(session=session, code=code) is None:
        raise Open311Error(404, f"service_code '{code}' not found; see services.json")
    attributes = _attributes_by_service(session).get(code, [])
    return {"service_code": code, "attributes": [_attribute_view(a, lang) for a in attributes]}


_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def read_attribute_fields(form: Iterable[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&...`` form fields, by code."""
    values: dict[str, list[str]] = {}
    for key, items in form:
        match = _ATTRIBUTE_KEY.match(key)
        if match:
            values.setdefault(match.group(1), []).extend(v for v in items if v.strip())
    return values


def _check_attribute(attribute: ServiceAttribute, given: list[str]) -> Any:
    name = f"attribute[{attribute.code}]"
    keys = {v["key"] for v in attribute.values or []}
    if attribute.datatype == "multivaluelist":
        wrong = [v for v in given if v not in keys]
        if wrong:
            raise ValueError(f"{name}: {', '.join(wrong)} not among {', '.join(sorted(keys))}")
        return list(dict.fromkeys(given))
    if len(given) > 1:
        raise ValueError(f"{name}: one value only")
    value = given[0].strip()
    if attribute.datatype == "singlevaluelist":
        if value not in keys:
            raise ValueError(f"{name}: '{value}' not among {', '.join(sorted(keys))}")
        return value
    if attribute.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name}: '{value}' is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{name}: '{value}' is not a finite number")
        return int(number) if number.is_integer() else number
    if attribute.datatype == "datetime":
        try:
            return w3c(parse_w3c(value))
        except ValueError:
            raise ValueError(f"{name}: '{value}' is not an ISO 8601 date-time") from None
    if attribute.datatype == "string":
        if "\n" in value or "\r" in value or len(value) > 500:
            raise ValueError(f"{name}: one line of at most 500 characters")
        return value
    if len(value) > 4000:  # text
        raise ValueError(f"{name}: at most 4,000 characters")
    return value


def validate_attributes(
    *, session: Session, service_code: str, given: dict[str, list[str]]
) -> dict[str, Any]:
    """Check attribute values against the service definition; Open311Error(400) lists problems."""
    definition = [a for a in _attributes_by_service(session).get(service_code, []) if a.variable]
    known = {a.code: a for a in definition}
    problems = [
        f"attribute[{code}] is not an attribute of service '{service_code}'"
        for code in given
        if code not in known
    ]
    values: dict[str, Any] = {}
    for attribute in definition:
        raw = given.get(attribute.code) or []
        if not raw:
            if attribute.required:
                problems.append(
                    f"attribute[{attribute.code}] is required ({attribute.description_en})"
                )
            continue
        try:
            values[attribute.code] = _check_attribute(attribute, raw)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise Open311Error(400, *problems)
    return values


# --- intake ---------------------------------------------------------------------------------


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
) -> int:
    """POST requests: validate against the service definition, then the foundation's intake.

    Returns the new (or replayed) report's id.
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
    except reports_service.UnknownServiceError as exc:
        raise Open311Error(404, str(exc)) from exc
    except reports_service.IdempotencyConflictError as exc:
        raise Open311Error(400, str(exc)) from exc
    return result.report_id


def service_notice(service: Service | None, lang: str) -> str | None:
    """What the city aims for: its target delay for this service."""
    if service is None:
        return None
    if lang == "en":
        return f"The city aims to deal with it within {service.target_days} days."
    return f"La ville vise un traitement sous {service.target_days} jours."


def token_lookup(*, session: Session, token: str) -> dict[str, str]:
    """GET tokens/{token}: a report's tracking id gives its service_request_id."""
    report = reports_service.get_by_tracking_id(session=session, tracking_id=token)
    if report is None or report.id is None:
        raise Open311Error(404, f"token '{token}' not found")
    return {"service_request_id": str(report.id), "token": token}


# --- reading requests ---------------------------------------------------------------------


def as_report_id(text: str) -> int | None:
    """A service_request_id as a report id, or None when it cannot be one (not a 32-bit id)."""
    text = text.strip()
    if not text.isdigit() or len(text) > 10 or int(text) >= 2**31:
        return None
    return int(text)


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The date window: the last 90 days by default, at most 90 days apart."""
    if start is None and end is None:
        return now - MAX_WINDOW, now
    if start is None:
        assert end is not None
        return end - MAX_WINDOW, end
    if end is None:
        return start, start + MAX_WINDOW
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "start_date and end_date may not be more than 90 days apart")
    return start, end


_COLUMNS: tuple[Any, ...] = (
    Report.id,
    Report.status,
    Report.service_code,
    Report.service_hint,
    Report.description_public,
    Report.created_at,
    Report.updated_at,
    Report.closed_at,
    Report.address,
    Report.address_public,
    Report.area_code,
    Report.lat,
    Report.lon,
)


def _area_info(session: Session, codes: set[str]) -> dict[str, tuple[float, float, str | None]]:
    info: dict[str, tuple[float, float, str | None]] = {}
    if not codes:
        return info
    stmt = select(Area.code, Area.centroid_lat, Area.centroid_lon, Area.parent_code).where(
        col(Area.code).in_(codes)
    )
    for code, lat, lon, parent in session.connection().execute(stmt).all():
        info[code] = (lat, lon, parent)
    for code in codes - set(info):
        # No areas loaded: the report's area is an H3 cell; its centre is the coarse position.
        try:
            lat, lon = h3.cell_to_latlng(code)
        except (ValueError, TypeError, h3.H3BaseException):
            continue
        info[code] = (lat, lon, None)
    return info


def _zipcode(parent_code: str | None) -> str | None:
    # Marseille's arrondissements are INSEE codes 13201-13216; their postcodes are 13001-13016.
    if parent_code and re.fullmatch(r"132(0[1-9]|1[0-6])", parent_code):
        return "130" + parent_code[-2:]
    return None


def _render(
    session: Session, rows: list[Any], lang: str, grid: float, page_ids: Any = None
) -> list[dict[str, Any]]:
    """Open311 requests from report rows, with three batched look-ups (notes, extras, areas).

    Positions follow the public site's posture (docs/privacy.md): object categories at the
    centre of their ``grid`` cell (``PUBLIC_GRID_DEGREES``), categories about people without
    any. The same for every client, API key or not: what Open311 answers is public (clients
    such as FixMyStreet show it on their own maps); exact positions are for staff.

    ``page_ids`` is the page's query of report ids: the look-ups filter on it as a subquery,
    which costs the database one more index scan but spares binding a thousand parameters.
    """
    if not rows:
        return []
    ids: Any = page_ids if page_ids is not None else [row.id for row in rows]
    services = {s.code: s for s in session.exec(select(Service))}
    facts = {code: _service_facts(service, lang) for code, service in services.items()}
    notes: dict[int, str] = {}
    # Only scrubbed notes are public: a note the worker has not scrubbed yet is not shown.
    note_stmt = (
        select(ReportUpdate.report_id, ReportUpdate.public_note_published)
        .where(
            col(ReportUpdate.report_id).in_(ids),
            col(ReportUpdate.public_note_published).is_not(None),
        )
        .order_by(col(ReportUpdate.report_id), col(ReportUpdate.created_at), col(ReportUpdate.id))
    )
    # fetchall, not row-by-row fetchone: a thousand round trips through the driver's API.
    for report_id, note in session.connection().execute(note_stmt).all():
        if note and note.strip():
            notes[report_id] = note  # the last one wins: the latest public note
    address_ids: dict[int, str] = dict(
        session.connection()
        .execute(
            select(Open311Request.report_id, Open311Request.address_id).where(
                col(Open311Request.report_id).in_(ids), col(Open311Request.address_id).is_not(None)
            )
        )
        .all()
    )
    areas = _area_info(session, {row.area_code for row in rows if row.area_code})
    out = []
    empty = (None, None, None, None, None, False)
    for row in rows:
        code = row.service_code or row.service_hint
        name, department, notice, target, about_people, known = (
            facts.get(code, empty) if code else empty
        )
        area = areas.get(row.area_code) if row.area_code else None
        address_id = address_ids.get(row.id)
        # The address as the resident wrote it is staff-only: the public one is scrubbed, and
        # absent until the worker has scrubbed it. (When it only repeats the address_id, it
        # is not repeated.)
        address = row.address_public if row.address != address_id else None
        lat, lon = public_position(row.lat, row.lon, grid=grid)
        description, status_notes = row.description_public, notes.get(row.id)
        if about_people:
            # Categories about people are never shown report by report (docs/privacy.md):
            # lists leave them out, and asked by id they give their status only: no
            # position, no address, no text (even scrubbed, it is about someone); the
            # zipcode (the arrondissement) is the finest place given.
            lat, lon = None, None
            address, address_id = None, None
            description, status_notes = None, None
        closed = row.status in CLOSED_STATUSES
        created = row.created_at
        out.append(
            {
                "service_request_id": str(row.id),
                "status": "closed" if closed else "open",
                "status_notes": status_notes,
                "service_name": name,
                "service_code": code,
                # Only the scrubbed text is public; before scrubbing, nothing.
                "description": description,
                "agency_responsible": department,
                "service_notice": notice,
                "requested_datetime": w3c(created),
                "updated_datetime": w3c(
                    row.closed_at if closed and row.closed_at else row.updated_at
                ),
                "expected_datetime": w3c(created + target) if known else None,
                "address": address,
                "address_id": address_id,
                "zipcode": _zipcode(area[2]) if area else None,
                "lat": lat,
                "long": lon,
                # Photos are not published: no moderation step exists yet (faces, plates).
                "media_url": None,
            }
        )
    return out


def _service_facts(service: Service, lang: str) -> tuple[Any, ...]:
    return (
        service.name(lang),
        service.department,
        service_notice(service, lang),
        timedelta(days=service.target_days),
        service.about_people,
        True,
    )


def list_requests(
    *,
    session: Session,
    query: dict[str, Any],
    lang: str,
    grid: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """GET requests: filters, a window of at most 90 days, newest first, pages of ≤ 1,000."""
    stmt = select(*_COLUMNS)
    if query.get("service_request_id"):
        # "This overrides all other arguments."
        ids = [as_report_id(value) for value in query["service_request_id"]]
        # An id that cannot exist matches nothing, like an id that does not exist.
        stmt = stmt.where(col(Report.id).in_([i for i in ids if i is not None]))
    else:
        start, end = window(query.get("start_date"), query.get("end_date"), now or utcnow())
        stmt = stmt.where(col(Report.created_at) >= start, col(Report.created_at) <= end)
        code = func.coalesce(Report.service_code, Report.service_hint)
        # Categories about people are never listed report by report (docs/privacy.md).
        stmt = stmt.where(or_(code.is_(None), code.not_in(_people_codes(session))))
        if query.get("service_code"):
            stmt = stmt.where(code.in_(query["service_code"]))
        statuses = set(query.get("status") or ())
        closed = [str(s) for s in CLOSED_STATUSES]
        if statuses == {"open"}:
            stmt = stmt.where(col(Report.status).not_in(closed))
        elif statuses == {"closed"}:
            stmt = stmt.where(col(Report.status).in_(closed))
    page, size = query.get("page", 1), query.get("page_size", 1000)
    stmt = (
        stmt.order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    page_ids = select(stmt.subquery().c.id)
    # Core execution: plain rows, without the ORM's per-row loading machinery.
    rows = list(session.connection().execute(stmt).all())
    return _render(session, rows, lang, grid, page_ids)


def _people_codes(session: Session) -> list[str]:
    """The service codes of the categories about people (noise, public order...)."""
    return list(session.exec(select(Service.code).where(col(Service.about_people))))


def get_request(*, session: Session, request_id: str, lang: str, grid: float) -> dict[str, Any]:
    """GET requests/{id}."""
    report_id = as_report_id(request_id)
    row = (
        session.connection().execute(select(*_COLUMNS).where(Report.id == report_id)).first()
        if report_id is not None
        else None
    )
    if row is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    return _render(session, [row], lang, grid)[0]


# --- updates (mySociety extension) --------------------------------------------------------


def _update_view(update: ReportUpdate) -> dict[str, Any]:
    return {
        "update_id": str(update.id),
        "service_request_id": str(update.report_id),
        "status": UPDATE_STATUS_OUT.get(update.status, "open"),
        "updated_datetime": w3c(update.created_at),
        # Only the scrubbed note is public; before the worker has scrubbed it, none.
        "description": update.public_note_published or "",
        "media_url": "",
    }


def list_updates(
    *, session: Session, query: dict[str, Any], now: datetime | None = None
) -> list[dict[str, Any]]:
    """GET servicerequestupdates: status changes in a window (the last 90 days by default)."""
    start, end = window(query.get("start_date"), query.get("end_date"), now or utcnow())
    page, size = query.get("page", 1), query.get("page_size", 1000)
    stmt = (
        select(ReportUpdate)
        .where(
            col(ReportUpdate.created_at) >= start,
            col(ReportUpdate.created_at) <= end,
            # The first step (received) is the request itself, not an update.
            col(ReportUpdate.status) != ReportStatus.RECEIVED,
            # A report about people is never shown report by report, nor its updates.
            col(ReportUpdate.report_id).not_in(
                select(Report.id).where(
                    func.coalesce(Report.service_code, Report.service_hint).in_(
                        _people_codes(session)
                    )
                )
            ),
        )
        .order_by(col(ReportUpdate.created_at), col(ReportUpdate.id))
        .offset((page - 1) * size)
        .limit(size)
    )
    return [_update_view(update) for update in session.exec(stmt)]


def _fingerprint(form: dict[str, Any]) -> str:
    keys = ("service_request_id", "status", "updated_datetime", "description", "media_url")
    payload = {k: (w3c(form[k]) if k == "updated_datetime" else form.get(k)) for k in keys}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _replayed(session: Session, api_key: ApiKey, form: dict[str, Any]) -> str | None:
    existing = session.exec(
        select(ExternalUpdate).where(
            ExternalUpdate.api_key_id == api_key.id, ExternalUpdate.update_id == form["update_id"]
        )
    ).first()
    if existing is None:
        return None
    if existing.request_hash != _fingerprint(form):
        raise Open311Error(
            400,
            f"update_id '{form['update_id']}' was already posted with different content; "
            "an update_id names one update",
        )
    return str(existing.report_update_id)


def post_update(
    *, session: Session, api_key: ApiKey, form: dict[str, Any], now: datetime | None = None
) -> str:
    """POST servicerequestupdates: apply a back-office update once per ``update_id``."""
    if not api_key.can_post_updates:
        raise Open311Error(403, "this api_key may not post updates; ask the city for one that can")
    replay = _replayed(session, api_key, form)
    if replay is not None:
        return replay
    status = UPDATE_STATUS_IN.get(form["status"].strip().lower())
    if status is None:
        raise Open311Error(
            400, f"status '{form['status']}' unknown; use one of {', '.join(UPDATE_STATUS_IN)}"
        )
    request_id = form["service_request_id"]
    report_id = as_report_id(request_id)
    report = session.get(Report, report_id) if report_id is not None else None
    if report is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    at: datetime = form["updated_datetime"]
    now = now or utcnow()
    if at > now + timedelta(minutes=5):
        raise Open311Error(400, "updated_datetime is in the future")
    key_id = api_key.id
    assert report_id is not None and key_id is not None
    latest = session.exec(
        select(func.max(ReportUpdate.created_at)).where(ReportUpdate.report_id == report.id)
    ).one()
    note = form.get("description") or None
    author = f"open311:{api_key.name}"
    try:
        if latest is not None and at < latest:
            # A late update, older than the report's last step: history only, the report's
            # current status (newer) stands.
            update = ReportUpdate(
                report_id=report_id,
                status=status,
                public_note=note,
                author=author,
                created_at=at,
            )
            session.add(update)
        else:
            update = reports_service.set_status(
                session=session, report=report, status=status, public_note=note, author=author
            )
            update.created_at = at
            # The public indicators follow the new status without waiting for the catch-up.
            feedback_service.enqueue_refresh(session=session, report_id=report_id)
        session.flush()
        assert update.id is not None
        # A back office's note is published like an agent's: only once a worker scrubbed it.
        public_notes.queue_scrubbing(session=session, update=update)
        session.add(
            ExternalUpdate(
                api_key_id=key_id,
                update_id=form["update_id"],
                report_update_id=update.id,
                request_hash=_fingerprint(form),
            )
        )
        session.commit()
    except IntegrityError:
        # The same update posted twice at once: the other one won.
        session.rollback()
        replay = _replayed(session, api_key, form)
        if replay is None:
            raise
        return replay
    return str(update.id)
