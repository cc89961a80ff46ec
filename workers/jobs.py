"""RQ entry points. Each job takes ids, reloads its state, and is safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from backend.models import Report, ReportStatus
from backend.services.reports import set_status
from workers.context import job_session

log = logging.getLogger(__name__)


def process_report(report_id: int) -> dict[str, Any]:
    """Process a new report: locate its area, then open it (later: classify, scrub, route)."""
    with job_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            log.warning("process_report: report %s does not exist (deleted?)", report_id)
            return {"report_id": report_id, "status": "missing"}
        if report.status == ReportStatus.RECEIVED:
            set_status(session=session, report=report, status=ReportStatus.OPEN)
            session.commit()
        return {"report_id": report_id, "status": report.status}


def drain_outbox() -> int:
    """Push pending outbox rows to RQ (scheduled every few seconds)."""
    from backend.extensions import redis_conn
    from backend.services import outbox

    with job_session() as session:
        return outbox.dispatch_pending(session=session, connection=redis_conn.client)
