"""The demo shows case work: templates, internal notes and a merged pair on ``make run``."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, select

from backend.cli import main
from backend.models import Report, ReportNote, ResponseTemplate


def test_the_demo_has_templates_notes_and_a_merged_pair(
    app: Flask, session: Session, marseille_areas: int
) -> None:
    result = app.test_cli_runner().invoke(main, ["demo", "--reports", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "internal notes" in result.output
    templates = session.exec(select(ResponseTemplate)).all()
    assert {t.service_code for t in templates} >= {None, "streetlight", "road_damage"}
    assert len(session.exec(select(ReportNote)).all()) == 25
    [duplicate] = session.exec(select(Report).where(Report.status == "duplicate")).all()
    kept = session.get(Report, duplicate.duplicate_of_id)
    assert kept is not None and kept.service_code == duplicate.service_code
