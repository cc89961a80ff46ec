"""Operator commands that run worker-side logic: ``lanterne signals ...``, ``lanterne import ...``.

They join the ``lanterne`` group through the ``flask.commands`` entry points.
"""

from __future__ import annotations

import click

from workers.signals.scan_cli import scan as scan_command


@click.group("signals")
def signals_cli() -> None:
    """Weak signals: detection, scans, listing."""


signals_cli.add_command(scan_command, "scan")


@click.group("import")
def import_cli() -> None:
    """Import official incident data and historical reports."""
