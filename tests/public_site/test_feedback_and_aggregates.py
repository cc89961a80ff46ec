"""The residents' questionnaire, the figures it refreshes, and the population command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import AggregateCell, Area, Feedback, OutboxMessage, ReportStatus
from backend.services import outbox
from backend.services.reports import set_status
from tests.conftest import reference_path
from tests.public_site.conftest import add_report, json_of, month_start
from workers.publication import cells

TZ = "Europe/Paris"


def test_questionnaire_once_the_city_says_fixed(client: FlaskClient, session: Session) -> None:
    report = add_report(session, area="1320101", service="streetlight", created=month_start(0))
    session.commit()
    url = f"/api/v1/reports/{report.tracking_id}/feedback"
    early = client.post(url, json={"fixed": True, "satisfaction": 5})
    assert early.status_code == 409 and "fixed" in json_of(early)["message"]
    set_status(session=session, report=report, status=ReportStatus.FIXED)
    session.commit()
    bad = client.post(url, json={"fixed": True, "satisfaction": 9})
    assert bad.status_code == 400
    answer = client.post(url, json={"fixed": False, "satisfaction": 2, "comment": "Jean, 06..."})
    assert answer.status_code == 201
    assert json_of(answer) == {
        "tracking_id": report.tracking_id,
        "fixed": False,
        "satisfaction": 2,
        # "Not fixed" the day it was fixed: within the window, the report is open again.
        "reopened": True,
        "status": "open",
        "created_at": json_of(answer)["created_at"],
    }
    assert "comment" not in json_of(answer)
    again = client.post(url, json={"fixed": True})
    assert again.status_code == 409
    assert client.post("/api/v1/reports/nope/feedback", json={"fixed": True}).status_code == 404
    stored = session.exec(select(Feedback)).one()
    assert stored.comment == "Jean, 06..." and stored.fixed is False
    # The aggregates are refreshed through the outbox, in the same transaction.
    jobs = [m.job_path for m in session.exec(select(OutboxMessage))]
    assert "workers.jobs.refresh_aggregates" in jobs


def test_the_refresh_an_answer_queues_runs_once_and_updates_the_figures(
    client: FlaskClient,
    session: Session,
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    report = add_report(session, area="1320101", service="streetlight", created=month_start(0))
    session.commit()
    cells.rebuild_all(session=session, tz=TZ)
    set_status(session=session, report=report, status=ReportStatus.FIXED)
    session.commit()
    url = f"/api/v1/reports/{report.tracking_id}/feedback"
    assert client.post(url, json={"fixed": False, "satisfaction": 2}).status_code == 201
    message = session.exec(select(OutboxMessage)).one()
    # Older than the web's own grace: the relay's business now.
    message.created_at = utcnow() - timedelta(minutes=1)
    session.commit()
    assert outbox.dispatch_pending(session=session, connection=redis_client) == 1
    assert run_jobs() == 1
    session.expire_all()
    assert session.get(OutboxMessage, message.id).done_at is not None  # type: ignore[union-attr]
    cell = session.exec(select(AggregateCell)).one()
    # "Not fixed" the day it was fixed reopened it: the figures no longer count it fixed.
    assert (cell.reports, cell.fixed, cell.feedback_n, cell.satisfaction_sum) == (1, 0, 1, 2)
    # Done rows are not pushed again: the relay does not loop on a finished refresh.
    assert outbox.dispatch_pending(session=session, connection=redis_client) == 0
    assert outbox.pending_count(session=session) == 0


def test_satisfaction_is_published_only_over_enough_answers(
    client: FlaskClient, session: Session, publish: Callable[[], dict[str, Any]], app: Flask
) -> None:
    session.add(
        Area(
            code="Z1",
            name="Zone",
            level="quartier",
            geometry='{"type": "Polygon", '
            '"coordinates": [[[5.3, 43.3], [5.31, 43.3], [5.31, 43.31], [5.3, 43.3]]]}',
            centroid_lat=43.303,
            centroid_lon=5.307,
        )
    )
    reports = [
        add_report(
            session,
            area="Z1",
            service="streetlight",
            created=month_start(0),
            status="fixed",
            days_to_fix=1,
        )
        for _ in range(9)
    ]
    session.commit()
    for i, report in enumerate(reports[:4]):
        client.post(
            f"/api/v1/reports/{report.tracking_id}/feedback",
            json={"fixed": True, "satisfaction": 1 + i},
        )
    publish()
    city = json_of(client.get("/api/v1/indicators?area=Z1"))["figures"]
    assert city["reports"] == 9 and city["satisfaction"] is None  # 4 answers: too few
    client.post(
        f"/api/v1/reports/{reports[4].tracking_id}/feedback",
        json={"fixed": False, "satisfaction": 5},
    )
    publish()
    figures = json_of(client.get("/api/v1/indicators?area=Z1"))["figures"]
    assert figures["satisfaction"] == 3.0 and figures["confirmed_pct"] == 80


def test_population_command_loads_the_reference_file(app: Flask, session: Session) -> None:
    from backend.cli import main
    from backend.services.areas import import_areas, read_features

    import_areas(
        session=session,
        features=read_features(reference_path("marseille", "arrondissements.geojson")),
        level="arrondissement",
        code_field="code_insee",
        name_field="nom",
    )
    runner = app.test_cli_runner()
    path = reference_path("marseille", "population_arrondissements.csv")
    result = runner.invoke(
        main,
        [
            "areas",
            "population",
            str(path),
            "--code-field",
            "code_insee",
            "--population-field",
            "pop_estimate_2010",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "16 areas" in result.output
    session.expire_all()
    first = session.exec(select(Area).where(Area.code == "13201")).one()
    assert first.population == 39349
    bad = runner.invoke(
        main,
        [
            "areas",
            "population",
            str(path),
            "--code-field",
            "code_insee",
            "--population-field",
            "nope",
        ],
    )
    assert bad.exit_code != 0 and "no column 'nope'" in bad.output
