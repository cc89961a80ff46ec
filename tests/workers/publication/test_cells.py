"""The raw cells: folded in incrementally (catch-up, one report's refresh), equal to a rebuild."""

from __future__ import annotations

import random

from sqlmodel import Session, select

from backend.models import AggregateCell, ReportStatus, Service
from backend.services.reports import set_status
from tests.public_site.conftest import add_report, month_start
from workers.publication import cells

TZ = "Europe/Paris"


def test_publication_folds_in_what_changed_each_cell_once(session: Session) -> None:
    rng = random.Random(7)
    codes = [s.code for s in session.exec(select(Service))]
    reports = [
        add_report(
            session, area=rng.choice("ABC"), service=rng.choice(codes), created=month_start(0)
        )
        for _ in range(40)
    ]
    session.commit()
    cells.rebuild_all(session=session, tz=TZ)  # sets the watermark
    # After it: new reports, status changes and a recategorisation, none refreshed by a job.
    for report in reports[:10]:
        set_status(session=session, report=report, status=ReportStatus.FIXED)
    reports[10].service_code = "graffiti" if reports[10].service_code != "graffiti" else "noise"
    set_status(session=session, report=reports[10], status=ReportStatus.IN_PROGRESS)
    session.add(reports[10])
    for _ in range(15):
        new = add_report(session, area="D", service="streetlight", created=month_start(0))
        set_status(session=session, report=new, status=ReportStatus.OPEN)
    session.commit()

    def snapshot() -> dict[tuple[str, str, str], tuple[int, int, int]]:
        session.expire_all()
        return {
            (c.month, c.area_code, c.service_code): (c.reports, c.fixed, c.open_count)
            for c in session.exec(select(AggregateCell))
        }

    assert cells.catch_up(session=session, tz=TZ) == 26  # reports changed since
    caught_up = snapshot()
    assert caught_up[(month_start(0).strftime("%Y-%m"), "D", "streetlight")][0] == 15
    cells.rebuild_all(session=session, tz=TZ)
    assert caught_up == snapshot()


def test_incremental_refresh_agrees_with_a_full_rebuild(session: Session) -> None:
    rng = random.Random(5)
    codes = [s.code for s in session.exec(select(Service))]
    areas = ["A", "B", "C"]
    reports = [
        add_report(
            session,
            area=rng.choice(areas),
            service=rng.choice(codes),
            created=month_start(rng.randint(0, 2)),
        )
        for _ in range(60)
    ]
    session.commit()
    cells.rebuild_all(session=session, tz=TZ)
    # Changes after the rebuild: statuses, recategorisations, moves; each refreshed alone.
    for report in rng.sample(reports, 25):
        choice = rng.random()
        if choice < 0.4:
            set_status(
                session=session,
                report=report,
                status=rng.choice([ReportStatus.FIXED, ReportStatus.REJECTED]),
            )
        elif choice < 0.7:
            report.service_code = rng.choice(codes)
        else:
            report.area_code = rng.choice(areas)
        session.add(report)
        session.commit()
        touched = cells.refresh_report(session=session, report_id=report.id or 0, tz=TZ)
        assert 1 <= len(touched) <= 2  # its cell, and the one it left
        session.commit()

    def snapshot() -> dict[tuple[str, str, str], tuple[int, int, int]]:
        return {
            (c.month, c.area_code, c.service_code): (c.reports, c.fixed, c.open_count)
            for c in session.exec(select(AggregateCell))
        }

    incremental = snapshot()
    cells.rebuild_all(session=session, tz=TZ)
    session.expire_all()
    assert incremental == snapshot()
    assert sum(v[0] for v in incremental.values()) == 60
