"""The default service catalogue (DESIGN.md); a city can replace it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.models import Service

# code, fr, en, department, target days to fix, about people
DEFAULT_SERVICES: list[tuple[str, str, str, str, int, bool]] = [
    ("streetlight", "Éclairage public en panne", "Street light out", "lighting", 5, False),
    ("traffic_signal", "Feu tricolore défectueux", "Traffic signal fault", "roads", 2, False),
    (
        "road_sign",
        "Panneau de signalisation endommagé ou manquant",
        "Damaged or missing road sign",
        "roads",
        10,
        False,
    ),
    (
        "road_damage",
        "Chaussée ou trottoir dégradé (nid-de-poule...)",
        "Pothole, damaged road or pavement",
        "roads",
        15,
        False,
    ),
    ("graffiti", "Tags et graffitis", "Graffiti", "cleanliness", 10, False),
    ("illegal_dumping", "Dépôt sauvage, encombrants", "Illegal dumping", "cleanliness", 3, False),
    (
        "waste_bins",
        "Poubelles débordantes, propreté",
        "Overflowing bins, litter",
        "cleanliness",
        2,
        False,
    ),
    (
        "abandoned_vehicle",
        "Véhicule abandonné ou épave",
        "Abandoned vehicle",
        "police_municipale",
        30,
        False,
    ),
    ("noise", "Nuisances sonores", "Noise", "police_municipale", 7, True),
    (
        "public_order",
        "Tranquillité publique (rodéos, regroupements, squats...)",
        "Public order, antisocial behaviour",
        "police_municipale",
        7,
        True,
    ),
    (
        "street_furniture",
        "Mobilier urbain endommagé",
        "Damaged street furniture",
        "roads",
        20,
        False,
    ),
    (
        "water_leak",
        "Fuite d'eau, inondation, égout",
        "Water leak, flooding, drains",
        "water",
        2,
        False,
    ),
    ("other", "Autre", "Other", "general", 15, False),
]


# The category of a report that neither the city nor the resident has put in one.
UNCLASSIFIED = "other"


def service_of(service_code: str | None, service_hint: str | None) -> str:
    """The category a report is counted in: the city's, else the resident's, else ``other``."""
    return service_code or service_hint or UNCLASSIFIED


def ensure_default_catalogue(*, session: Session) -> int:
    """Insert the default catalogue when the service table is empty; return rows added."""
    if session.exec(select(Service).limit(1)).first() is not None:
        return 0
    for order, (code, fr, en, dept, days, about_people) in enumerate(DEFAULT_SERVICES):
        session.add(
            Service(
                code=code,
                name_fr=fr,
                name_en=en,
                department=dept,
                group=dept,
                target_days=days,
                about_people=about_people,
                sort_order=order,
            )
        )
    session.commit()
    return len(DEFAULT_SERVICES)


def get_active_service(*, session: Session, code: str) -> Service | None:
    """The active service with this code, or None."""
    service = session.get(Service, code)
    return service if service is not None and service.active else None


def list_services(*, session: Session) -> list[Service]:
    """Every active service, in catalogue order."""
    stmt = select(Service).where(col(Service.active).is_(True)).order_by(col(Service.sort_order))
    return list(session.exec(stmt))
