"""Open311 GeoReport v2's two output formats, JSON and XML.

The JSON form follows the spec's "Spark convention": the XML root element is dropped and its
repeated children become an array; the XML is built with ElementTree, never by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 (we build XML; we never parse input XML)

# XML: the element name of one item inside each list, by the list's name.
ITEM_TAGS: dict[str, str] = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
}

# The order of the fields of a request, as in the spec's examples.
REQUEST_FIELDS: tuple[str, ...] = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


def to_json(payload: Any) -> bytes:
    """The JSON body, UTF-8, non-ASCII kept as is."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fill(element: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(element, name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(child, key, item)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS.get(name, "item")
        for item in value:
            _fill(child, item_tag, item)
    else:
        child.text = _text(value)


def to_xml(root: str, payload: Any) -> bytes:
    """The XML body: declaration, UTF-8, ``root`` holding the payload (a list or a mapping)."""
    element = ET.Element(root)
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            _fill(element, key, value)
    else:
        item_tag = ITEM_TAGS[root]
        for item in payload:
            if isinstance(item, Mapping):
                child = ET.SubElement(element, item_tag)
                for key, value in item.items():
                    _fill(child, key, value)
            else:
                ET.SubElement(element, item_tag).text = _text(item)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)
