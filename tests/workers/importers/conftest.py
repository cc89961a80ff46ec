"""Helpers for the importer tests: run the ``lanterne`` CLI in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"
EXTRACT = REFERENCE / "marseille" / "baac_bicycle_accidents_2017-2021.csv"
STREETS = REFERENCE / "marseille" / "streets.json"
MAPPINGS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "mappings"


@pytest.fixture
def lanterne(app: Flask) -> Callable[..., Result]:
    """Run ``lanterne ARGS...`` in-process against the test app; return click's result."""
    from backend.cli import main

    def _invoke(*args: str | Path) -> Result:
        runner = app.test_cli_runner()
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return _invoke
