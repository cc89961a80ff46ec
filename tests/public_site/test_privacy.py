"""Privacy by construction: everything public is read back, and an adversary attacks it.

The data set puts reports with contacts, raw texts, addresses and exact positions in a few
quartiers over two months; the test then reads every public page and download and the API,
and checks that nothing personal or precise comes out, and that no hidden small count can be
recomputed from all that is published.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from scipy import linalg
from scipy.optimize import linprog
from sqlmodel import Session, select

from backend.models import Area, Report
from backend.services.contacts import ContactDetails, make_contact
from public_site import periods
from tests.conftest import reference_path
from tests.public_site.conftest import add_report, month_start

K = 5
PEOPLE = {"noise", "public_order"}
SERVICES = [
    "streetlight",
    "road_damage",
    "graffiti",
    "illegal_dumping",
    "waste_bins",
    "noise",
    "public_order",
    "abandoned_vehicle",
]


@pytest.fixture
def city(
    app: Flask, session: Session, marseille_areas: int, publish: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """About 700 reports in 3 arrondissements over two months, with contacts; published."""
    from backend.api.reports import contact_cipher

    rng = random.Random(20261129)
    areas = [a for a in session.exec(select(Area)) if a.parent_code in ("13201", "13203", "13206")]
    cipher = contact_cipher()
    truth: Counter[tuple[str, str, str]] = Counter()
    secrets: dict[str, Any] = {
        "emails": [],
        "phones": [],
        "raw": [],
        "addresses": [],
        "positions": [],
        "public_people": [],
        "tracking": [],
    }
    reports: list[Report] = []
    contacts: list[ContactDetails] = []
    for i in range(700):
        area = rng.choice(areas)
        # Skewed: a few busy quartiers, many quiet ones (small counts to hide).
        if rng.random() < 0.6:
            area = areas[i % 4]
        service = rng.choice(SERVICES)
        created = month_start(rng.choice([0, 1])) + timedelta(hours=rng.randint(0, 24 * 20))
        status = rng.choice(["open", "in_progress", "fixed", "fixed", "rejected"])
        lat = area.centroid_lat + rng.uniform(-0.0009, 0.0009)
        lon = area.centroid_lon + rng.uniform(-0.0009, 0.0009)
        raw = f"RAWSECRET{i:04d} Jean Dupont au 06 12 34 {i % 100:02d}"
        public = f"PUBLICTEXT{i:04d} lampadaire" if i % 3 else None
        address = f"{i} rue Secrète"
        report = add_report(
            session,
            area=area.code,
            service=service,
            created=created,
            status=status,
            days_to_fix=rng.uniform(0.5, 12) if status == "fixed" else None,
            lat=lat,
            lon=lon,
            description=raw,
            description_public=public,
            address=address,
            history=False,
        )
        reports.append(report)
        email, phone = f"person{i:04d}@example.org", f"+3361234{i:04d}"
        contacts.append(ContactDetails(email=email, phone=phone, consent_notifications=True))
        month = periods.month_of(created, "Europe/Paris")
        truth[(month, area.code, service)] += 1
        secrets["emails"].append(email)
        secrets["phones"].append(phone)
        secrets["raw"].append(f"RAWSECRET{i:04d}")
        secrets["addresses"].append(address)
        secrets["positions"].append((lat, lon))
        if service in PEOPLE and public:
            secrets["public_people"].append(public.split()[0])
        secrets["tracking"].append(report.tracking_id)
    session.flush()
    for report, details in zip(reports, contacts, strict=True):
        session.add(make_contact(cipher=cipher, report_id=report.id or 0, details=details))
    session.commit()
    summary = publish()
    parents = {a.code: a.parent_code for a in areas}
    return {
        "truth": truth,
        "secrets": secrets,
        "summary": summary,
        "parents": parents,
        "reports": reports,
    }


def crawl(client: FlaskClient, city: dict[str, Any]) -> dict[str, str]:
    """Every public page (both languages), every download, the API: url -> body."""
    bodies: dict[str, str] = {}
    urls = ["/", "/?lang=en", "/donnees", "/donnees?lang=en", "/api/v1/indicators"]
    months = sorted({m for (m, _a, _s) in city["truth"]})
    codes = sorted(city["parents"]) + sorted(set(city["parents"].values()))
    for period in [*months, periods.quarter_of(months[-1]), months[-1][:4]]:
        for service in ["*", *SERVICES]:
            urls.append(f"/?periode={period}&categorie={service}")
            urls.append(f"/?periode={period}&categorie={service}&niveau=arrondissement")
            urls.append(f"/api/v1/indicators?period={period}&service_code={service}")
        for code in codes:
            urls.append(f"/api/v1/indicators?area={code}&period={period}")
    for code in codes:
        # A neighbourhood's page shows its month, quarter and year at once.
        urls.append(f"/quartiers/{code}")
        urls.append(f"/quartiers/{code}?periode={months[0]}&lang=en")
    # Tracking pages are rate limited per address (30 a minute): a sample of them.
    for tracking in city["secrets"]["tracking"][:20]:
        urls.append(f"/suivi/{tracking}")
    for name in (
        "indicateurs.csv",
        "indicateurs.geojson",
        "backlog.csv",
        "signalements.csv",
        "signalements.geojson",
    ):
        urls.append(f"/donnees/{name}")
    for url in urls:
        with client.get(url) as response:
            assert response.status_code == 200, (url, response.status_code)
            bodies[url] = response.get_data(as_text=True)
    return bodies


def test_nothing_personal_or_precise_is_published(
    client: FlaskClient, city: dict[str, Any], app: Flask
) -> None:
    bodies = crawl(client, city)
    # Every word, e-mail, number and code that any public answer contains.
    tokens: set[str] = set()
    for body in bodies.values():
        tokens.update(re.findall(r"[\w@.+:-]+", body))
    secrets = city["secrets"]
    for needle in secrets["emails"] + secrets["phones"] + secrets["raw"]:
        assert needle not in tokens, needle
    assert not tokens & {"Dupont", "Secrète"}, "a raw text or an address was published"
    for lat, lon in secrets["positions"]:
        for text in (repr(lat), repr(lon), f"{lat:.6f}", f"{lon:.6f}"):
            assert text not in tokens, text
    # Structurally: no number that looks like a coordinate is finer than the outlines' 5
    # decimals (about 1 m of simplified boundary; reports themselves are on a 0.01 grid).
    fine = [t for t in tokens if re.fullmatch(r"-?(4[0-5]|[4-6])\.\d{6,}", t)]
    assert fine == [], fine[:5]
    # Individual reports: object categories only, positions on the coarse grid only.
    grid = app.config["PUBLIC_GRID_DEGREES"]
    rows = list(csv.DictReader(io.StringIO(bodies["/donnees/signalements.csv"])))
    assert rows, "object categories in published cells give individual records"
    for row in rows:
        assert row["service_code"] not in PEOPLE
        for coord in (float(row["lat"]), float(row["lon"])):
            assert abs((coord / grid - 0.5) - round(coord / grid - 0.5)) < 1e-6, coord
    features = json.loads(bodies["/donnees/signalements.geojson"])["features"]
    assert len(features) == len(rows)
    assert all(
        "description" not in f["properties"]
        for f in features
        if f["properties"].get("description") is None
    )
    for marker in secrets["public_people"]:
        assert marker not in tokens, "a text about people was published"
    # Every individual record comes from a published month cell (else counting records would
    # give the hidden count).
    published = {
        (r["period"], r["area_code"], r["service_code"]): r
        for r in csv.DictReader(io.StringIO(bodies["/donnees/indicateurs.csv"]))
    }
    texts = {row["description"] for row in rows if row["description"]}
    for report in city["reports"]:
        key = (
            periods.month_of(report.created_at, "Europe/Paris"),
            report.area_code,
            report.service_code,
        )
        cell = published.get(key)
        if report.description_public and report.description_public in texts:
            assert cell is not None and cell["reports"] not in ("", None)
            assert int(cell["reports"]) >= K
    # The API publishes exactly the figures of the download, nothing more.
    month = max(k[0] for k in city["truth"])
    for code in sorted(city["parents"])[:10]:
        body = json.loads(bodies[f"/api/v1/indicators?area={code}&period={month}"])
        for item in body["by_service"]:
            expected = published.get((month, code, item["service_code"]), {"reports": "0"})
            assert (item["reports"] is None) == (expected["reports"] == "")
            if item["reports"] is not None:
                assert item["reports"] == int(expected["reports"])


def build_system(
    published: dict[tuple[str, str, str], str], parents: dict[str, str]
) -> tuple[
    list[tuple[tuple[str, str, str], list[tuple[str, str, str]]]], set[tuple[str, str, str]]
]:
    """The adversary's equations, from public knowledge only: the quartiers' districts (the
    reference file), the published cells and their additivity."""
    with reference_path("marseille", "quartiers.csv").open(encoding="utf-8") as handle:
        quartiers = {row["code_qua"]: row["arrondissement"] for row in csv.DictReader(handle)}
    keys = set(published)
    period_list = sorted({k[0] for k in keys})
    services = sorted({k[2] for k in keys} - {"*"})
    districts: dict[str, list[str]] = defaultdict(list)
    for q, d in quartiers.items():
        districts[d].append(q)
    relations = []
    for period in period_list:
        for area in [*quartiers, *districts, "city"]:
            relations.append(((period, area, "*"), [(period, area, s) for s in services]))
        for service in [*services, "*"]:
            for d, qs in districts.items():
                relations.append(((period, d, service), [(period, q, service) for q in qs]))
            relations.append(((period, "city", service), [(period, d, service) for d in districts]))
    months = [p for p in period_list if periods.kind(p) == "month"]
    for area in [*quartiers, *districts, "city"]:
        for service in [*services, "*"]:
            for quarter in sorted({periods.quarter_of(m) for m in months}):
                relations.append(
                    (
                        (quarter, area, service),
                        [(m, area, service) for m in periods.months_of(quarter)],
                    )
                )
            for year in sorted({m[:4] for m in months}):
                relations.append(
                    ((year, area, service), [(q, area, service) for q in periods.quarters_of(year)])
                )
    hidden = {k for k, v in published.items() if v in ("", None)}
    return relations, hidden


def test_an_adversary_cannot_recompute_any_hidden_small_count(
    client: FlaskClient, city: dict[str, Any]
) -> None:
    with client.get("/donnees/indicateurs.csv") as response:
        text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    published = {(r["period"], r["area_code"], r["service_code"]): r["reports"] for r in rows}
    relations, hidden = build_system(published, city["parents"])
    truth = city["truth"]
    small = {k for k, v in truth.items() if 0 < v < K}
    assert small, "the data set has small counts"
    assert small <= hidden, "every small month cell is hidden"
    for key in small:
        assert published.get(key) in ("", None)

    def known(key: tuple[str, str, str]) -> float:
        value = published.get(key)
        return 0.0 if value is None else float(value)

    unknowns = sorted(hidden)
    col = {k: i for i, k in enumerate(unknowns)}
    a_rows, b = [], []
    for total, parts in relations:
        row = np.zeros(len(unknowns))
        rhs = 0.0
        for key, coef in [(total, -1.0), *[(p, 1.0) for p in parts]]:
            if key in col:
                row[col[key]] += coef
            else:
                rhs -= coef * known(key)
        if row.any():
            a_rows.append(row)
            b.append(rhs)
        else:
            assert abs(rhs) < 1e-9, f"published figures disagree on {total}"
    matrix = np.array(a_rows)
    # 1. Linear algebra: no hidden cell is a combination of published equations.
    null = linalg.null_space(matrix)
    determined = [unknowns[i] for i in range(len(unknowns)) if np.abs(null[i]).max() < 1e-8]
    assert determined == [], determined[:5]
    # 2. Linear programming with counts >= 0, on a sample of the small cells.
    rng = random.Random(3)
    for key in rng.sample(sorted(small), min(25, len(small))):
        c = np.zeros(len(unknowns))
        c[col[key]] = 1
        lo = linprog(c, A_eq=matrix, b_eq=b, bounds=(0, None))
        hi = linprog(-c, A_eq=matrix, b_eq=b, bounds=(0, None))
        assert lo.status == 0 and hi.status == 0
        assert -hi.fun - lo.fun >= 1 - 1e-6, f"{key}={truth[key]} pinned to [{lo.fun}, {-hi.fun}]"
