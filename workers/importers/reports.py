"""A city's historical reports (from its former system) as Report rows with their history.

Keyed on (source, external id): a re-import updates the report and replaces the history it
had imported (status changes made in Lanterne since are kept). Reports with text but no
service code are queued for classification through the outbox, like intake does.

Without ``--mapping`` the CSV's columns are expected to be named like Lanterne's fields::

    external_id, created_at, lat, lon, address, description, service_code, status, closed_at

A mapping (TOML or JSON) names other columns::

    [external_id]
    column = "service_request_id"
    [created_at]
    date = "requested_datetime"
    formats = ["iso"]
    [closed_at]
    date = "closed_date"
    [position]
    lat = "lat"
    lon = "long"
    [description]
    column = "description"
    [service_code]
    column = "service_name"
    map = { "Street Light Out" = "streetlight" }
    [status]
    column = "status"
    map = { "Closed" = "closed", "Open" = "open" }
    default = "closed"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from backend.db import dialect_insert, utcnow
from backend.jobs import LINK_REPORTS, PROCESS_REPORT
from backend.models import OutboxMessage, ReportStatus, ReportUpdate, Service
from backend.services import outbox
from backend.services.reports import new_tracking_id, process_job_id
from backend.services.workflow import STATUSES as WORKFLOW_STATUSES
from workers.importers.csv_files import CsvFile
from workers.importers.mapping_fields import (
    DateSpec,
    PositionSpec,
    ValueSpec,
    as_tuple,
    load_mapping_data,
    mapping_section,
)
from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, Progress, Row, RowError, row_hash
from workers.importers.writers import existing_keys, link_job_id

IMPORT_AUTHOR = "import"
STATUSES = set(WORKFLOW_STATUSES)


@dataclass(frozen=True)
class ReportMapping:
    """How a CSV's columns make a report."""

    created_at: DateSpec
    position: PositionSpec
    external_id: tuple[str, ...] = ()
    description: str | None = None
    service_code: ValueSpec | None = None
    status: ValueSpec | None = None
    closed_at: DateSpec | None = None
    address: str | None = None
    language: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    TOP_KEYS = frozenset(
        {
            "external_id",
            "created_at",
            "closed_at",
            "position",
            "description",
            "service_code",
            "status",
            "address",
            "language",
            "delimiter",
            "encoding",
        }
    )

    @classmethod
    def default(cls) -> ReportMapping:
        """Columns named like Lanterne's fields."""
        return cls(
            created_at=DateSpec(date="created_at"),
            position=PositionSpec(lat="lat", lon="lon", address="address"),
            external_id=("external_id",),
            description="description",
            service_code=ValueSpec(column="service_code"),
            status=ValueSpec(column="status", default="closed"),
            closed_at=DateSpec(date="closed_at"),
            address="address",
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportMapping:
        """Read and check a mapping."""
        unknown = set(data) - cls.TOP_KEYS
        if unknown:
            raise ImportFileError(
                f"mapping: unknown key(s) {sorted(unknown)} (known: {sorted(cls.TOP_KEYS)})"
            )
        if "created_at" not in data:
            raise ImportFileError("mapping: [created_at] is required")
        text = mapping_section(data, "description", {"column"})
        lang = mapping_section(data, "language", {"column"})
        ext = mapping_section(data, "external_id", {"column", "columns"})
        mapping = cls(
            created_at=DateSpec.from_dict(
                mapping_section(data, "created_at", set(DateSpec.KEYS)), "created_at"
            ),
            closed_at=DateSpec.from_dict(
                mapping_section(data, "closed_at", set(DateSpec.KEYS)), "closed_at"
            )
            if "closed_at" in data
            else None,
            position=PositionSpec.from_dict(
                mapping_section(data, "position", set(PositionSpec.KEYS))
            ),
            external_id=as_tuple(ext.get("columns") or ext.get("column"), "external_id"),
            description=text.get("column"),
            language=lang.get("column"),
            service_code=ValueSpec.from_dict(
                mapping_section(data, "service_code", set(ValueSpec.KEYS)), "service_code"
            )
            if "service_code" in data
            else None,
            status=ValueSpec.from_dict(
                mapping_section(data, "status", set(ValueSpec.KEYS)), "status"
            )
            if "status" in data
            else None,
            address=data.get("address") if isinstance(data.get("address"), str) else None,
            delimiter=data.get("delimiter"),
            encoding=data.get("encoding"),
        )
        if mapping.description is None and mapping.service_code is None:
            raise ImportFileError("mapping: a report needs [description] or [service_code]")
        if mapping.position.empty:
            raise ImportFileError("mapping: [position] is required (lat/lon, address or area)")
        return mapping

    def columns(self) -> list[str]:
        """Every column the mapping names."""
        names = [
            *self.created_at.columns(),
            *(self.closed_at.columns() if self.closed_at else []),
            *self.position.columns(),
            *self.external_id,
            *([self.description] if self.description else []),
            *(self.service_code.columns() if self.service_code else []),
            *(self.status.columns() if self.status else []),
            *([self.address] if self.address else []),
            *([self.language] if self.language else []),
        ]
        return list(dict.fromkeys(names))

    def for_header(self, header: list[str]) -> ReportMapping:
        """The default mapping trimmed to the optional columns a file has."""
        has = set(header)
        position = PositionSpec(
            lat="lat" if {"lat", "lon"} <= has else None,
            lon="lon" if {"lat", "lon"} <= has else None,
            address="address" if "address" in has else None,
            area="area_code" if "area_code" in has else None,
        )
        return ReportMapping(
            created_at=self.created_at,
            position=position,
            external_id=self.external_id,
            description="description" if "description" in has else None,
            service_code=self.service_code if "service_code" in has else None,
            status=self.status if "status" in has else None,
            closed_at=self.closed_at if "closed_at" in has else None,
            address="address" if "address" in has else None,
            language="language" if "language" in has else None,
        )

    def to_report(
        self, row: Mapping[str, str], locator: Locator, services: set[str]
    ) -> dict[str, Any]:
        """The report of one row; RowError when it cannot be imported."""
        created = self.created_at.parse(row)
        assert created is not None
        closed = self.closed_at.parse(row, required=False) if self.closed_at else None
        text = (row.get(self.description) or "").strip() if self.description else ""
        code = (
            self.service_code.get(row, "service code", required=False)
            if self.service_code
            else None
        )
        if code is not None and code not in services:
            raise RowError(f"unknown service code {code!r} (not in the catalogue; map it)")
        if not text and code is None:
            raise RowError("neither text nor service code")
        status = (self.status.get(row, "status", required=False) if self.status else None) or (
            ReportStatus.CLOSED if closed else ReportStatus.OPEN
        )
        status = status.strip().lower()
        if status not in STATUSES:
            raise RowError(f"unknown status {status!r} (known: {', '.join(sorted(STATUSES))})")
        if closed is not None and closed < created:
            raise RowError("closed before it was created")
        lat, lon, area = self.position.resolve(row, locator)
        if self.external_id:
            parts = [(row.get(c) or "").strip() for c in self.external_id]
            if not all(parts):
                raise RowError(f"empty external id in {', '.join(self.external_id)}")
            external_id = ":".join(parts)
        else:
            external_id = row_hash(row.values())
        if len(external_id) > 128:
            raise RowError("external id longer than 128 characters")
        address = (row.get(self.address) or "").strip() if self.address else ""
        language = (row.get(self.language) or "").strip()[:8] if self.language else ""
        return {
            "external_id": external_id,
            "created_at": created,
            "closed_at": closed,
            "status": status,
            "description": text,
            "service_code": code,
            "lat": lat,
            "lon": lon,
            "area_code": area,
            "address": address[:500] or None,
            "language": language or None,
        }


def load_report_mapping(path: Path | None) -> ReportMapping:
    """A report mapping from a file, or the default one."""
    if path is None:
        return ReportMapping.default()
    try:
        return ReportMapping.from_dict(load_mapping_data(path))
    except ImportFileError as exc:
        raise ImportFileError(f"{path}: {exc}") from exc


class ReportCsv:
    """A CSV of historical reports, as rows of reports."""

    def __init__(
        self,
        path: Path,
        mapping: ReportMapping | None,
        locator: Locator,
        *,
        services: set[str],
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.csv = CsvFile(
            path,
            encoding=encoding or (mapping.encoding if mapping else None),
            delimiter=delimiter or (mapping.delimiter if mapping else None),
        )
        if mapping is None:
            mapping = ReportMapping.default().for_header(self.csv.header)
            if mapping.description is None and mapping.service_code is None:
                raise ImportFileError(
                    f"{path}: no 'description' nor 'service_code' column; name the columns "
                    "with --mapping (the file has: " + ", ".join(self.csv.header) + ")"
                )
            if mapping.position.empty:
                raise ImportFileError(
                    f"{path}: no position columns ('lat' and 'lon', 'address' or 'area_code'); "
                    "name them with --mapping (the file has: " + ", ".join(self.csv.header) + ")"
                )
        missing = [c for c in mapping.columns() if c not in self.csv.header]
        if missing:
            raise ImportFileError(
                f"{path}: the mapping names columns missing from the file: "
                f"{', '.join(repr(c) for c in missing)} (the file has: "
                f"{', '.join(self.csv.header)})"
            )
        self.mapping = mapping
        self.locator = locator
        self.services = services
        self.size = self.csv.size
        self.skipped: Counter[str] = Counter()
        self.name = path.name

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse every row into a report, or a rejection."""
        for line, values, problem in self.csv.dict_rows(progress):
            if values is None:
                yield Row(self.name, line, reason=problem)
                continue
            try:
                report = self.mapping.to_report(values, self.locator, self.services)
                yield Row(self.name, line, values=report)
            except RowError as exc:
                yield Row(self.name, line, reason=str(exc))


def catalogue_codes(session: Session) -> set[str]:
    """The service codes of the catalogue."""
    return set(session.exec(select(Service.code)))


REPORT_FIELDS = (
    "created_at",
    "closed_at",
    "status",
    "description",
    "service_code",
    "lat",
    "lon",
    "area_code",
    "address",
    "language",
)


class ReportWriter:
    """Upserts reports of one source with their imported history; queues what they need."""

    def __init__(self, session: Session, source: str = "import") -> None:
        if not source or len(source) > 32:
            raise ImportFileError("--source must be a name of 1 to 32 characters")
        self.session = session
        self.source = source
        self.table = SQLModel.metadata.tables["report"]

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which external ids of this source are stored."""
        return existing_keys(self.session, self.table, "source", self.source, keys)

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Upsert a batch of reports, replace their imported history, queue their jobs."""
        keys = [r["external_id"] for r in batch]
        before = self.existing(keys)
        now = utcnow()
        rows = [
            {
                "source": self.source,
                "external_id": r["external_id"],
                "tracking_id": new_tracking_id(),
                "updated_at": now,
                "needs_triage": False,
                **{k: r[k] for k in REPORT_FIELDS},
            }
            for r in batch
        ]
        stmt = dialect_insert(self.session, self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={name: stmt.excluded[name] for name in (*REPORT_FIELDS, "updated_at")},
        ).returning(self.table.c.id, self.table.c.external_id)
        try:
            ids = {str(ext): int(i) for i, ext in self.session.execute(stmt, rows)}
            report_ids = list(ids.values())
            # The history this import wrote before is replaced; staff updates are kept.
            self.session.execute(
                sa.delete(ReportUpdate).where(
                    col(ReportUpdate.report_id).in_(report_ids),
                    col(ReportUpdate.author) == IMPORT_AUTHOR,
                )
            )
            self.session.add_all(
                [u for r in batch for u in self._history(ids[r["external_id"]], r)]
            )
            messages: list[OutboxMessage] = []
            to_link: list[int] = []
            for r in batch:
                report_id = ids[r["external_id"]]
                if r["service_code"] is None:
                    if r["external_id"] not in before:
                        messages.append(
                            outbox.add_job(
                                session=self.session,
                                job_path=PROCESS_REPORT.path,
                                args=[report_id],
                                job_id=process_job_id(report_id),
                                queue=PROCESS_REPORT.queue,
                            )
                        )
                else:
                    to_link.append(report_id)
            if to_link:
                messages.append(
                    outbox.add_job(
                        session=self.session,
                        job_path=LINK_REPORTS.path,
                        args=[sorted(to_link)],
                        job_id=link_job_id("reports", to_link),
                        queue=LINK_REPORTS.queue,
                    )
                )
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        jobs = len(messages)
        inserted = sum(1 for k in keys if k not in before)
        return inserted, len(keys) - inserted, jobs

    @staticmethod
    def _history(report_id: int, r: dict[str, Any]) -> Iterator[ReportUpdate]:
        yield ReportUpdate(
            report_id=report_id,
            status=ReportStatus.RECEIVED,
            created_at=r["created_at"],
            author=IMPORT_AUTHOR,
        )
        if r["status"] != ReportStatus.RECEIVED:
            yield ReportUpdate(
                report_id=report_id,
                status=r["status"],
                created_at=r["closed_at"] or r["created_at"],
                author=IMPORT_AUTHOR,
            )
