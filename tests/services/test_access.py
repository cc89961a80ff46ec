"""Access rules: which services a staff member sees, who may read contact details."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.models import Report, Service, StaffUser
from backend.services.access import can_read_contacts, can_see_service, service_filter
from backend.services.staff import create_staff


def _report(session: Session, code: str | None) -> Report:
    report = Report(tracking_id=f"t-{code}", description="x", service_code=code)
    session.add(report)
    session.commit()
    return report


def test_scope_agents_see_their_services_supervisors_their_department(session: Session) -> None:
    agent = create_staff(
        session=session, email="ag@marseille.fr", role="agent", service_codes=["graffiti"]
    )
    sup = create_staff(
        session=session, email="sup@marseille.fr", role="supervisor", department="roads"
    )
    analyst = create_staff(session=session, email="an@marseille.fr", role="analyst")
    admin = create_staff(session=session, email="ad@marseille.fr", role="admin")
    empty_agent = create_staff(session=session, email="new@marseille.fr", role="agent")

    roads = set(session.exec(select(Service.code).where(Service.department == "roads")))
    assert roads == {"traffic_signal", "road_sign", "road_damage", "street_furniture"}
    for code in ["graffiti", "road_damage", "noise", None]:
        _report(session, code)

    def visible(staff: StaffUser) -> set[str | None]:
        query = select(Report.service_code).where(
            service_filter(staff, Report.service_code, session)
        )
        return set(session.exec(query))

    assert visible(agent) == {"graffiti"}
    assert visible(sup) == {"road_damage"}
    assert visible(analyst) == visible(admin) == {"graffiti", "road_damage", "noise", None}
    assert visible(empty_agent) == set()

    assert can_see_service(agent, "graffiti", session)
    assert not can_see_service(agent, "road_damage", session)
    assert can_see_service(sup, "traffic_signal", session)
    assert not can_see_service(sup, "graffiti", session)
    assert not can_see_service(sup, None, session)  # not routed yet: not a department's
    assert can_see_service(analyst, "noise", session)
    assert [can_read_contacts(s) for s in (agent, sup, analyst, admin)] == [
        True,
        True,
        False,
        False,
    ]
