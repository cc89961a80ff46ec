"""The open data files (CSV, GeoJSON), written into a fresh folder and swapped in atomically.

The pages serve them from ``public_site.open_data.open_data_path``. Individual reports are
written for object categories only, and only from published month cells.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import Report
from backend.services.catalogue import service_of
from backend.services.reports import snap
from public_site import periods
from public_site.areas import CITY, Hierarchy, area_geometry
from public_site.indicators import NOW
from workers.publication.rollup import Snapshot
from workers.publication.settings import PublishSettings

AGGREGATE_FIELDS = [
    "period",
    "area_code",
    "area_name",
    "area_level",
    "service_code",
    "reports",
    "suppressed",
    "fixed_pct",
    "median_days",
    "satisfaction",
    "confirmed_pct",
    "rate_per_1000",
]
REPORT_FIELDS = ["month", "service_code", "status", "days_to_fix", "lat", "lon", "description"]


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): such a cell of
# free text gets a leading single quote, which spreadsheets show as text and do not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row whose text cells cannot run as formulas (numbers are left as numbers)."""
    return {
        key: "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
        for key, value in row.items()
    }


def write_open_data(
    *,
    session: Session,
    settings: PublishSettings,
    snapshot: Snapshot,
    hierarchy: Hierarchy,
    object_services: set[str],
) -> None:
    """Write the downloads (CSV, GeoJSON) into a fresh folder, then swap it in atomically."""
    settings.out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".public_data-", dir=settings.out_dir.parent))
    try:
        _write_aggregates(tmp, snapshot, hierarchy)
        _write_reports(tmp, session, settings, snapshot, object_services)
        old = settings.out_dir.with_name(settings.out_dir.name + ".old")
        if settings.out_dir.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(settings.out_dir, old)
        os.replace(tmp, settings.out_dir)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _write_aggregates(folder: Path, snapshot: Snapshot, hierarchy: Hierarchy) -> None:
    names = {code: node.name for code, node in hierarchy.nodes.items()}
    with (folder / "indicateurs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=AGGREGATE_FIELDS)
        writer.writeheader()
        for row in snapshot.rows:
            if row["period"] == NOW:
                continue
            writer.writerow(
                spreadsheet_safe(
                    {**row, "area_name": names.get(row["area_code"], row["area_code"])}
                )
            )
    with (folder / "backlog.csv").open("w", newline="", encoding="utf-8") as handle:
        fields = [
            "area_code",
            "area_name",
            "area_level",
            "service_code",
            "open_reports",
            "suppressed",
        ]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in snapshot.rows:
            if row["period"] != NOW:
                continue
            writer.writerow(
                spreadsheet_safe(
                    {
                        "area_code": row["area_code"],
                        "area_name": names.get(row["area_code"], row["area_code"]),
                        "area_level": row["area_level"],
                        "service_code": row["service_code"],
                        "open_reports": row["reports"],
                        "suppressed": row["suppressed"],
                    }
                )
            )
    # GeoJSON: one feature per area and year, with the published counts by service.
    by_area_year: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for row in snapshot.rows:
        if row["period"] == NOW or periods.kind(row["period"]) != "year":
            continue
        if row["area_code"] == CITY:
            continue
        by_area_year[(row["area_code"], row["period"])][
            f"reports_{row['service_code']}".replace("*", "all")
        ] = row["reports"]
    features = []
    for (area, year), props in sorted(by_area_year.items()):
        node = hierarchy.nodes[area]
        geometry = area_geometry(node)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "area_code": area,
                    "area_name": node.name,
                    "area_level": node.level,
                    "year": year,
                    **props,
                },
            }
        )
    (folder / "indicateurs.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )


def _write_reports(
    folder: Path,
    session: Session,
    settings: PublishSettings,
    snapshot: Snapshot,
    object_services: set[str],
) -> None:
    """Individual reports: object categories only, from published month cells only."""
    stmt = (
        sa.select(  # type: ignore[call-overload,misc]
            Report.created_at,
            Report.closed_at,
            Report.status,
            Report.area_code,
            Report.service_code,
            Report.service_hint,
            Report.lat,
            Report.lon,
            Report.description_public,
        )
        .where(col(Report.area_code).is_not(None))
        .where(col(Report.lat).is_not(None), col(Report.lon).is_not(None))
        .order_by(col(Report.created_at))
        .execution_options(yield_per=20_000)
    )
    grid = settings.grid
    with (
        (folder / "signalements.csv").open("w", newline="", encoding="utf-8") as csv_handle,
        (folder / "signalements.geojson").open("w", encoding="utf-8") as geo_handle,
    ):
        writer = csv.DictWriter(csv_handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        geo_handle.write('{"type": "FeatureCollection", "features": [\n')
        first = True
        for created, closed, status, area, code, hint, lat, lon, text in session.execute(stmt):
            service = service_of(code, hint)
            if service not in object_services:
                continue  # categories about people: never report by report
            month = periods.month_of(created, settings.tz)
            if (month, area, service) not in snapshot.published_cells:
                continue  # a record from a hidden cell would let its count be recomputed
            record: dict[str, Any] = {
                "month": month,
                "service_code": service,
                "status": status,
                "days_to_fix": int((closed - created).total_seconds() // 86400)
                if closed is not None and status in ("fixed", "closed")
                else None,
                "lat": snap(lat, grid),
                "lon": snap(lon, grid),
            }
            if text:
                record["description"] = text
            # The GeoJSON keeps the text as it is: only spreadsheets run formulas.
            writer.writerow(spreadsheet_safe(record))
            props = {k: v for k, v in record.items() if k not in ("lat", "lon")}
            feature = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
                "properties": props,
            }
            geo_handle.write(("" if first else ",\n") + json.dumps(feature, ensure_ascii=False))
            first = False
        geo_handle.write("\n]}\n")
