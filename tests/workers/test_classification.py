"""Classification and scrubbing in the worker, suggestions through the web, the feedback loop."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlmodel import Session, select

from backend.models import ModelVersion, Report
from backend.services.classification import correct_category, gold_examples, record_model
from nlp.classifier import Classifier, default_model
from tests.conftest import make_test_app
from workers import classification

POS = {"lat": 43.2951, "lon": 5.3800}


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    classification.reset()
    yield
    classification.reset()


def report(session: Session) -> Report:
    session.expire_all()
    return session.exec(select(Report)).one()


def test_worker_classifies_scrubs_and_keeps_the_hint(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    text = "Le lampadaire devant chez moi est éteint depuis 3 soirs, rappelez-moi au 06 12 34 56 78"
    client.post("/api/v1/reports", json={"description": text, "service_code": "other", **POS})
    assert run_jobs() == 1
    stored = report(session)
    assert stored.predicted_code == "streetlight"
    assert stored.service_hint == "other"
    assert stored.service_code == "streetlight"  # the hint "other" was not a real category
    assert 0 < (stored.confidence or 0) <= 1
    assert stored.top_predictions and len(stored.top_predictions) == 3
    assert stored.top_predictions[0]["service_code"] == "streetlight"
    assert stored.model_version and stored.language == "fr"
    assert stored.description == text
    assert stored.description_public and "06 12" not in stored.description_public
    assert "[téléphone]" in stored.description_public
    assert stored.status == "received"  # sorted by a machine, not yet read by anyone


def test_other_language_goes_to_triage(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    client.post(
        "/api/v1/reports",
        json={"description": "La farola de mi calle no funciona desde hace una semana", **POS},
    )
    run_jobs()
    stored = report(session)
    assert stored.language in ("other", "es")
    assert stored.predicted_code == "other" and stored.needs_triage is True


def test_a_category_settled_before_the_worker_runs_is_kept_out_of_triage(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    client.post(
        "/api/v1/reports",
        json={"description": "La farola de mi calle no funciona desde hace una semana", **POS},
    )
    correct_category(
        session=session, report=report(session), service_code="streetlight", author="agent"
    )
    run_jobs()
    stored = report(session)
    assert stored.predicted_code == "other"  # the model's view, kept beside the decision
    assert stored.service_code == "streetlight" and stored.needs_triage is False


def test_suggestion_is_answered_by_a_worker(
    app: Flask, client: FlaskClient, redis_client: redis.Redis, run_jobs: Callable[[], int]
) -> None:
    answers: list[object] = []

    def type_text() -> None:
        with app.test_client() as phone:
            answers.append(phone.post("/api/v1/classify", json={"text": "gros nid de poule"}))

    asking = threading.Thread(target=type_text)
    asking.start()
    queue = Queue("high", connection=redis_client)
    deadline = time.monotonic() + 5
    while queue.count == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    run_jobs()
    asking.join(timeout=10)
    response = answers[0]
    assert response.status_code == 200, response.json  # type: ignore[attr-defined]
    body = response.json  # type: ignore[attr-defined]
    assert body["service_code"] == "road_damage"
    assert [t["service_code"] for t in body["top"]][0] == "road_damage"
    assert len(body["top"]) == 3
    assert sum(t["confidence"] for t in body["top"]) <= 1.0 + 1e-9


def test_suggestion_without_worker_is_503_with_retry_after(
    app: Flask, database_url: str, redis_url: str, instance_path: Path
) -> None:
    quick = make_test_app(database_url, redis_url, instance_path, CLASSIFY_WAIT_SECONDS=1)
    with quick.test_client() as phone:
        started = time.monotonic()
        response = phone.post("/api/v1/classify", json={"text": "lampadaire"})
        waited = time.monotonic() - started
    quick.extensions["lanterne.db"].dispose()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "worker" in response.json["message"]
    assert waited < 5
    blank = app.test_client().post("/api/v1/classify", json={"text": "   "})
    assert blank.status_code == 422


def test_web_process_never_loads_spacy(app: Flask) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from backend.wsgi import app; "
        "c = app.test_client(); c.get('/api/v1/openapi.json'); "
        "print('spacy' in sys.modules, 'thinc' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={
            **__import__("os").environ,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "REDIS_URL": app.config["REDIS_URL"],
            "LANTERNE_INSTANCE_PATH": app.instance_path,
        },
    )
    assert out.stdout.strip() == "False False"


def test_corrections_become_gold_labels_and_a_promoted_model_is_picked_up(
    app: Flask,
    client: FlaskClient,
    session: Session,
    run_jobs: Callable[[], int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.post("/api/v1/reports", json={"description": "Il y a un souci rue Paradis", **POS})
    run_jobs()
    stored = report(session)
    correct_category(session=session, report=stored, service_code="water_leak", author="agent@x")
    assert gold_examples(session=session) == [("Il y a un souci rue Paradis", "water_leak")]
    assert report(session).service_code == "water_leak" and not report(session).needs_triage

    # A promoted model (here: a copy of the built one) is used without restarting the worker.
    built = Classifier.load()
    copy = tmp_path / "model-copy"
    shutil.copytree(Path(built.nlp.path), copy)
    monkeypatch.setattr(classification, "CHECK_EVERY", 0.0)
    assert classification.classifier(session).nlp.path != copy
    record_model(
        session=session,
        version="test-1",
        location=str(copy),
        metrics={"macro_f1": 0.95},
        corrections_used=1,
        promote=True,
    )
    assert Path(classification.classifier(session).nlp.path) == copy
    assert session.exec(select(ModelVersion)).one().active


def test_worker_refuses_to_start_with_a_corrupted_model(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    from workers.worker import preload_models

    broken = tmp_path / "broken-model"
    shutil.copytree(Path(Classifier.load(default_model()).nlp.path), broken)
    for model_file in broken.rglob("model"):
        model_file.write_bytes(b"\x00garbage")
    record_model(
        session=session,
        version="broken",
        location=str(broken),
        metrics={"macro_f1": 1.0},
        corrections_used=0,
        promote=True,
    )
    with pytest.raises(SystemExit) as stopped:
        preload_models()
    assert "Lanterne worker not started" in str(stopped.value)
    assert "corrupted" in str(stopped.value) or "cannot load" in str(stopped.value)


def test_the_weekly_retraining_is_scheduled_and_waits_for_new_corrections(
    app: Flask, session: Session, redis_client: redis.Redis, run_jobs: Callable[[], int]
) -> None:
    from rq.cron import CronScheduler
    from rq.job import Job

    scheduler = CronScheduler(connection=redis_client)
    scheduler.load_config_from_file("workers.cron")
    [weekly] = [j for j in scheduler.get_jobs() if j.func_name.endswith("retrain_classifier")]
    assert weekly.cron == "0 4 * * 0" and weekly.kwargs == {"only_if_new": True}
    # What the scheduler enqueues on Sunday night, run by a real worker: no correction yet,
    # so no training and no new model version.
    job_id = weekly.enqueue(redis_client).id
    assert run_jobs() == 1
    result = Job.fetch(job_id, connection=redis_client).return_value()
    assert result == {"retrained": False, "corrections": 0}
    assert session.exec(select(ModelVersion)).all() == []
