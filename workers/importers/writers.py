"""Writers: upserts keyed on (source, external id) that work on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from backend.db import dialect_insert, utcnow
from backend.jobs import LINK_INCIDENTS
from backend.services import outbox
from workers.importers.rows import ImportFileError, row_hash

# Parameters per statement stay well under SQLite's limit (32,766) and PostgreSQL's (65,535).
_LOOKUP_CHUNK = 900


def existing_keys(
    session: Session, table: sa.Table, source_column: str, source: str, keys: Sequence[str]
) -> set[str]:
    """Which external ids of one source are already stored."""
    found: set[str] = set()
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = list(keys[start : start + _LOOKUP_CHUNK])
        stmt = sa.select(table.c.external_id).where(
            table.c[source_column] == source, table.c.external_id.in_(chunk)
        )
        found.update(str(k) for k in session.execute(stmt).scalars())
    return found


def link_job_id(what: str, ids: Iterable[int]) -> str:
    """The job id of a linking job, derived from its ids (a re-import queues the same job)."""
    return f"link-{what}-{row_hash(sorted(ids))[1:21]}"


class Writer(Protocol):
    """Stores one batch of validated rows (keyed on ``external_id``) in one transaction."""

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which keys are already stored."""
        ...

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Upsert and commit a batch; return (inserted, updated, jobs enqueued)."""
        ...


INCIDENT_FIELDS = (
    "external_id",
    "kind",
    "occurred_at",
    "lat",
    "lon",
    "address",
    "area_code",
    "count",
    "attributes",
)


class IncidentWriter:
    """Upserts incidents of one source; enqueues their linking in the same transaction."""

    def __init__(self, session: Session, source: str, *, link: bool = True) -> None:
        if not source or len(source) > 64:
            raise ImportFileError("--source must be a name of 1 to 64 characters")
        self.session = session
        self.source = source
        self.link = link
        self.table = SQLModel.metadata.tables["incident"]

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which external ids of this source are stored."""
        return existing_keys(self.session, self.table, "source", self.source, keys)

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Upsert a batch of incidents and commit it with its linking job."""
        keys = [r["external_id"] for r in batch]
        before = self.existing(keys)
        now = utcnow()
        rows = [
            {"source": self.source, "imported_at": now, **{k: r.get(k) for k in INCIDENT_FIELDS}}
            for r in batch
        ]
        for row in rows:
            row["count"] = 1 if row["count"] is None else row["count"]
            row["attributes"] = row["attributes"] or {}
        stmt = dialect_insert(self.session, self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={name: stmt.excluded[name] for name in (*INCIDENT_FIELDS[1:], "imported_at")},
        ).returning(self.table.c.id)
        try:
            ids = [int(i) for i in self.session.execute(stmt, rows).scalars()]
            messages = []
            if self.link and ids:
                messages.append(
                    outbox.add_job(
                        session=self.session,
                        job_path=LINK_INCIDENTS.path,
                        args=[sorted(ids)],
                        job_id=link_job_id("incidents", ids),
                        queue=LINK_INCIDENTS.queue,
                    )
                )
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        jobs = len(messages)
        inserted = sum(1 for k in keys if k not in before)
        return inserted, len(keys) - inserted, jobs
