"""Open311's service catalogue: the services, their attributes (``attributes.toml`` as the
default) and the check of the attribute values a request carries.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any

from sqlmodel import Session, col, select

from backend.models import (
    Service,
    ServiceAttribute,
)
from backend.open311.errors import Open311Error
from backend.open311.schemas import parse_w3c, w3c
from backend.services.catalogue import get_active_service, list_services

ATTRIBUTES_FILE = "attributes.toml"
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def default_attributes() -> dict[str, list[dict[str, Any]]]:
    """``attributes.toml``: service code -> its attributes, in the order clients show them."""
    text = resources.files(__package__).joinpath(ATTRIBUTES_FILE).read_text(encoding="utf-8")
    catalogue: dict[str, list[dict[str, Any]]] = tomllib.loads(text)
    for service_code, attributes in catalogue.items():
        for attribute in attributes:
            if attribute["datatype"] not in DATATYPES:
                raise ValueError(
                    f"{ATTRIBUTES_FILE}: {service_code}.{attribute['code']} has datatype "
                    f"'{attribute['datatype']}', not one of {', '.join(DATATYPES)}"
                )
    return catalogue


def default_attribute_rows() -> list[ServiceAttribute]:
    """The default catalogue's attributes, as rows (not yet added to a session)."""
    return [
        ServiceAttribute(
            service_code=service_code,
            code=attribute["code"],
            variable=attribute["variable"],
            datatype=attribute["datatype"],
            required=attribute["required"],
            sort_order=order,
            description_fr=attribute["description_fr"],
            description_en=attribute["description_en"],
            values=[
                {"key": v["key"], "name_fr": v["name_fr"], "name_en": v["name_en"]}
                for v in attribute["values"]
            ]
            if attribute.get("values")
            else None,
        )
        for service_code, attributes in default_attributes().items()
        for order, attribute in enumerate(attributes, start=1)
    ]


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


def service_notice(service: Service | None, lang: str) -> str | None:
    """What the city aims for: its target delay for this service."""
    if service is None:
        return None
    if lang == "en":
        return f"The city aims to deal with it within {service.target_days} days."
    return f"La ville vise un traitement sous {service.target_days} jours."
