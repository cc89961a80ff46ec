"""``lanterne signals detect [--as-of DATE]`` and ``lanterne signals list [--json]``."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlmodel import col, select

from backend.extensions import db
from backend.models import Signal, SignalStatus


def _parse_day(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param=param) from None


@click.command("detect")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_day,
    help="Last day of data, YYYY-MM-DD [default: yesterday in the city's time zone].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def detect(as_of: date | None, as_json: bool) -> None:
    """Run the scan, the temporal and the co-occurrence detectors and record the signals."""
    from workers.signals.detect import detect_signals
    from workers.signals.settings import DetectionSettings

    started = time.perf_counter()
    with db.new_session() as session:
        summary = detect_signals(
            session=session, as_of=as_of, settings=DetectionSettings.from_config(current_app.config)
        )
    elapsed = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps({**summary.to_dict(), "seconds": round(elapsed, 2)}))
        return
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(summary.by_kind.items())) or "none"
    click.echo(
        f"Signals as of {summary.as_of}: {summary.created} new, {summary.updated} updated, "
        f"{summary.removed} removed ({kinds}); {summary.services_scanned} services scanned, "
        f"{summary.pairs_tested} pairs tested, in {elapsed:.1f} s."
    )
    if summary.reports_outside_areas:
        click.echo(
            f"Note: {summary.reports_outside_areas} reports have an area that is not scanned."
        )


def signal_to_dict(signal: Signal) -> dict[str, Any]:
    """A signal as plain JSON (the same fields as the API)."""
    return {
        "id": signal.id,
        "kind": signal.kind,
        "method": signal.method,
        "service_code": signal.service_code,
        "incident_kind": signal.incident_kind,
        "area_codes": signal.area_codes,
        "start": signal.start.isoformat(),
        "end": signal.end.isoformat(),
        "observed": signal.observed,
        "expected": signal.expected,
        "statistic": signal.statistic,
        "p_value": signal.p_value,
        "recurrence_interval_days": signal.recurrence_interval_days,
        "explanation_fr": signal.explanation_fr,
        "explanation_en": signal.explanation_en,
        "status": signal.status,
        "as_of": signal.as_of.isoformat(),
        "detected_at": signal.detected_at.isoformat(),
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every signal.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in SignalStatus]),
    default=None,
    help="Only signals with this status.",
)
@click.option("--as-of", "as_of", callback=_parse_day, help="Only signals of this day.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@with_appcontext
def list_signals(
    as_json: bool, status: str | None, as_of: date | None, lang: str, limit: int
) -> None:
    """List the latest signals, newest first."""
    stmt = select(Signal).order_by(col(Signal.as_of).desc(), col(Signal.id).desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Signal.status == status)
    if as_of is not None:
        stmt = stmt.where(Signal.as_of == as_of)
    with db.new_session() as session:
        signals = list(session.exec(stmt))
    if as_json:
        click.echo(json.dumps({"signals": [signal_to_dict(s) for s in signals]}, indent=2))
        return
    if not signals:
        click.echo("Aucun signal." if lang == "fr" else "No signals.")
        return
    for s in signals:
        text = s.explanation_fr if lang == "fr" else s.explanation_en
        click.echo(f"#{s.id} [{s.as_of}] {s.kind} {s.status}: {text}")
