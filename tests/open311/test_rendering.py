"""Real Open311 captures (Bloomington, San Francisco) read with our schemas and parsers."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from flask.testing import FlaskClient
from sqlalchemy import insert
from sqlmodel import Session

from backend.models import Report, Service
from backend.open311.rendering import REQUEST_FIELDS
from tests.conftest import reference_path
from tests.open311.conftest import BASE, validate


def test_bloomington_services_match_our_service_shape(client: FlaskClient) -> None:
    captured = json.loads(
        reference_path("open311", "open311_bloomington_services.json").read_text("utf-8")
    )
    assert len(captured) == 53
    validate("services", captured)
    ours = client.get(f"{BASE}/services.json").get_json()
    # Same fields as a real city serves, no more, no fewer.
    assert {frozenset(s) for s in captured} == {frozenset(s) for s in ours}


def test_san_francisco_grouped_services_entries_are_services(client: FlaskClient) -> None:
    captured = json.loads(
        reference_path("open311", "open311_sf_services_grouped_2012.json").read_text("utf-8")
    )
    # San Francisco served its list grouped by name (not the spec's flat array): each entry
    # still carries the core of a service, which ours carry too.
    entries = [dict(entry, group=group) for group, items in captured.items() for entry in items]
    assert entries
    for entry in entries:
        validate("services", entry, ref="#/$defs/service_core")
    for ours in client.get(f"{BASE}/services.json").get_json():
        validate("services", ours, ref="#/$defs/service_core")


def test_san_francisco_requests_xml_has_our_request_fields() -> None:
    root = ET.parse(reference_path("open311", "open311_sf_requests_sample_2012.xml")).getroot()  # noqa: S314
    assert root.tag == "service_requests"
    requests = root.findall("request")
    assert len(requests) == 3
    for request in requests:
        tags = [child.tag for child in request]
        # Every field SF sends is one of ours, in the same order as ours.
        assert set(tags) <= set(REQUEST_FIELDS)
        assert tags == [f for f in REQUEST_FIELDS if f in tags]
        assert (request.findtext("service_request_id") or "").isdigit()
        assert -90 <= float(request.findtext("lat") or "nan") <= 90
        assert -180 <= float(request.findtext("long") or "nan") <= 180


def test_san_francisco_requests_served_back_through_our_filters(
    client: FlaskClient, session: Session
) -> None:
    """5,355 real SF requests loaded as reports: our window, status, code filters and pages."""
    path = reference_path("open311", "open311_sf_latest_requests_2012.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5355
    codes = sorted({row["service_code"] for row in rows})
    session.add_all(
        Service(code=f"sf{c}", name_fr=f"SF {c}", name_en=f"SF {c}", department="sf") for c in codes
    )
    session.commit()
    reports: list[dict[str, Any]] = []
    for row in rows:
        day = datetime.fromisoformat(row["requested_date"]).replace(tzinfo=UTC)
        closed = row["status"].lower() == "closed"
        reports.append(
            {
                "id": int(row["service_request_id"]),
                "tracking_id": f"sf-{row['service_request_id']}",
                "description": "",
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "service_code": f"sf{row['service_code']}",
                "status": "closed" if closed else "open",
                "source": "sf",
                "created_at": day,
                "updated_at": day,
                "closed_at": day if closed else None,
            }
        )
    session.execute(insert(Report), reports)
    session.commit()

    start, end = "2012-08-01T00:00:00Z", "2012-08-05T23:59:59Z"
    lo, hi = datetime(2012, 8, 1, tzinfo=UTC), datetime(2012, 8, 6, tzinfo=UTC)
    expected = [r for r in reports if lo <= r["created_at"] < hi]
    closed_expected = {str(r["id"]) for r in expected if r["status"] == "closed"}
    assert 1000 < len(expected) < 2000 and closed_expected

    def get(query: str, check: bool = False) -> list[dict]:
        response = client.get(f"{BASE}/requests.json?start_date={start}&end_date={end}&{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        if check:
            validate("requests", body)
        return body

    def ids(query: str) -> set[str]:
        found: list[str] = []
        for page in range(1, 10):
            batch = [r["service_request_id"] for r in get(f"{query}&page={page}")]
            found += batch
            if len(batch) < 1000:
                return set(found)
        raise AssertionError("more pages than expected")

    first = get("", check=True)
    assert len(first) == 1000  # "at most 1,000": the rest is on the next page
    assert ids("") == {str(r["id"]) for r in expected}
    assert ids("status=closed") == closed_expected
    busiest = max(codes, key=lambda c: sum(r["service_code"] == f"sf{c}" for r in expected))
    by_code = get(f"service_code=sf{busiest}")
    assert by_code and all(r["service_code"] == f"sf{busiest}" for r in by_code)
    assert len(by_code) == sum(r["service_code"] == f"sf{busiest}" for r in expected)
    # Dates keep their instant and gain a time zone, as the spec requires.
    assert all(r["requested_datetime"].endswith("+00:00") for r in first)
    assert end > first[-1]["requested_datetime"] >= "2012-08-01"
    assert timedelta(days=90) > hi - lo
