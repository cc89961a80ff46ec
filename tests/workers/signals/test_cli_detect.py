"""``lanterne signals detect`` / ``list``, and the daily RQ job."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from flask import Flask
from rq import Queue
from sqlmodel import Session, select

from backend.models import Area, Signal
from tests.workers.signals.synthetic import AS_OF, add_reports
from workers.cli import signals_cli

SETTINGS = {"SIGNALS_DETECTION": {"cooccurrence": False}}


def _cluster(session: Session) -> None:
    quartiers = [
        a.code
        for a in session.exec(select(Area).where(Area.parent_code == "13203").order_by(Area.code))
    ][:3]
    rows = []
    for i in range(12):
        day = AS_OF - timedelta(days=i % 3)
        rows.append(
            (
                "streetlight",
                quartiers[i % 3],
                datetime(day.year, day.month, day.day, 18, tzinfo=UTC),
            )
        )
    add_reports(session, rows, prefix="cluster")


def test_detect_then_list_from_the_command_line(
    app: Flask, session: Session, quiet_city: int
) -> None:
    runner = app.test_cli_runner()
    app.config.update(SETTINGS)
    try:
        quiet = runner.invoke(signals_cli, ["detect", "--as-of", AS_OF.isoformat()])
        assert quiet.exit_code == 0, quiet.output
        assert "0 new" in quiet.output and "2 services scanned" in quiet.output
        empty = runner.invoke(signals_cli, ["list"])
        assert empty.exit_code == 0 and "Aucun signal." in empty.output

        _cluster(session)
        found = runner.invoke(signals_cli, ["detect", "--as-of", AS_OF.isoformat(), "--json"])
        assert found.exit_code == 0, found.output
        summary = json.loads(found.output)
        assert summary["as_of"] == "2025-03-12" and summary["by_kind"]["scan"] >= 1

        listed = runner.invoke(signals_cli, ["list", "--json"])
        signals = json.loads(listed.output)["signals"]
        assert signals and all(s["as_of"] == "2025-03-12" for s in signals)
        assert any(s["service_code"] == "streetlight" and s["kind"] == "scan" for s in signals)
        text = runner.invoke(signals_cli, ["list", "--lang", "en", "--status", "new"])
        assert "street-light outage reports" in text.output

        bad = runner.invoke(signals_cli, ["detect", "--as-of", "12/03/2025"])
        assert bad.exit_code == 2 and "is not a date" in bad.output
    finally:
        app.config.pop("SIGNALS_DETECTION", None)


def test_the_daily_job_runs_on_a_real_worker(
    app: Flask,
    session: Session,
    quiet_city: int,
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    _cluster(session)
    app.config.update(SETTINGS)
    try:
        queue = Queue("signals", connection=redis_client)
        job = queue.enqueue("workers.jobs.detect_signals", AS_OF.isoformat())
        assert run_jobs() == 1
        job.refresh()
        assert job.is_finished, job.latest_result()
        result = job.return_value()
        assert result is not None and result["as_of"] == "2025-03-12" and result["created"] >= 1
        # run again: same day, same rows
        queue.enqueue("workers.jobs.detect_signals", AS_OF.isoformat())
        run_jobs()
        session.expire_all()
        rows = session.exec(select(Signal)).all()
        assert len(rows) == result["created"]
    finally:
        app.config.pop("SIGNALS_DETECTION", None)
