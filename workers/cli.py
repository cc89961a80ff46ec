"""Operator commands that run worker-side logic: ``lanterne signals ...``, ``lanterne import ...``.

They join the ``lanterne`` group through the ``flask.commands`` entry points.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from nlp.cli import nlp_cli
from workers.importers.cli import incidents_command, reports_command
from workers.signals.cli_detect import detect as detect_command
from workers.signals.cli_detect import list_signals as list_signals_command
from workers.signals.scan_cli import scan as scan_command


@click.group("signals")
def signals_cli() -> None:
    """Weak signals: detection, scans, listing."""


signals_cli.add_command(scan_command, "scan")
signals_cli.add_command(detect_command, "detect")
signals_cli.add_command(list_signals_command, "list")


@click.group("import")
def import_cli() -> None:
    """Import official incident data and historical reports."""


import_cli.add_command(incidents_command, "incidents")
import_cli.add_command(reports_command, "reports")


@click.command("retrain")
@click.option("--seed", default=0, show_default=True, help="training seed")
@with_appcontext
def retrain_command(seed: int) -> None:
    """Retrain on corpus + triage corrections; promote if test macro-F1 does not drop."""
    from backend.extensions import db
    from workers.retraining import retrain_and_maybe_promote

    click.echo("Training (a few minutes)...", err=True)
    with db.new_session() as session:
        summary = retrain_and_maybe_promote(session=session, seed=seed)
    previous = summary["previous_macro_f1"]
    verdict = "promoted" if summary["promoted"] else "kept the current model (it scored higher)"
    click.echo(
        f"Model {summary['version']}: macro-F1 {summary['macro_f1']:.4f} on the frozen test split"
        + (f" (current {previous:.4f})" if previous is not None else "")
        + f", {summary['corrections_used']} corrections used; {verdict}."
    )


# `lanterne nlp ...`: the text commands of nlp/ (a leaf package), plus retraining, which
# needs the database and so lives here.
nlp_cli.add_command(retrain_command, "retrain")
