"""The default service catalogue (DESIGN.md); a city can replace it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from backend.models import Service
from backend.services import audit
from nlp import taxonomy


class UnknownServiceError(LookupError):
    """A service code that is not in the catalogue (the city's, or the published one)."""


@dataclass(frozen=True)
class DefaultService:
    """A service of the default catalogue: the taxonomy's names and the city's organisation."""

    code: str
    fr: str
    en: str
    department: str
    target_days: int  # to fix, the target that triage's lateness counts against
    about_people: bool  # noise, public order...: never shown report by report


# The names are the classifier's taxonomy (``nlp.taxonomy``, written once there); this adds
# who handles each service: department, target days to fix, about people.
_ORGANISATION: dict[str, tuple[str, int, bool]] = {
    "streetlight": ("lighting", 5, False),
    "traffic_signal": ("roads", 2, False),
    "road_sign": ("roads", 10, False),
    "road_damage": ("roads", 15, False),
    "graffiti": ("cleanliness", 10, False),
    "illegal_dumping": ("cleanliness", 3, False),
    "waste_bins": ("cleanliness", 2, False),
    "abandoned_vehicle": ("police_municipale", 30, False),
    "noise": ("police_municipale", 7, True),
    "public_order": ("police_municipale", 7, True),
    "street_furniture": ("roads", 20, False),
    "water_leak": ("water", 2, False),
    "other": ("general", 15, False),
}
DEFAULT_SERVICES: tuple[DefaultService, ...] = tuple(
    DefaultService(s.code, s.fr, s.en, *_ORGANISATION[s.code]) for s in taxonomy.SERVICES
)


# The category of a report that neither the city nor the resident has put in one.
UNCLASSIFIED = "other"


def service_of(service_code: str | None, service_hint: str | None) -> str:
    """The category a report is counted in: the city's, else the resident's, else ``other``."""
    return service_code or service_hint or UNCLASSIFIED


def ensure_default_catalogue(*, session: Session) -> int:
    """Insert the default catalogue when the service table is empty; return rows added."""
    if session.exec(select(Service).limit(1)).first() is not None:
        return 0
    for order, default in enumerate(DEFAULT_SERVICES):
        session.add(
            Service(
                code=default.code,
                name_fr=default.fr,
                name_en=default.en,
                department=default.department,
                group=default.department,
                target_days=default.target_days,
                about_people=default.about_people,
                sort_order=order,
            )
        )
    session.commit()
    return len(DEFAULT_SERVICES)


def get_active_service(*, session: Session, code: str) -> Service | None:
    """The active service with this code, or None."""
    service = session.get(Service, code)
    return service if service is not None and service.active else None


def list_services(*, session: Session, include_inactive: bool = False) -> list[Service]:
    """Every active service (or every one), in catalogue order."""
    stmt = select(Service)
    if not include_inactive:
        stmt = stmt.where(col(Service.active).is_(True))
    return list(session.exec(stmt.order_by(col(Service.sort_order), col(Service.code))))


class CatalogueError(ValueError):
    """A catalogue edit refused; the message says why."""


def update_service(
    *,
    session: Session,
    code: str,
    name_fr: str,
    name_en: str,
    target_days: int,
    working_days: bool,
    department: str,
    active: bool,
    actor: audit.Actor,
) -> Service:
    """Edit a service of the catalogue (its code stays: reports and rules name it); commits
    with a ``service.updated`` audit row holding what changed."""
    service = session.get(Service, code)
    if service is None:
        raise CatalogueError(f"No service has the code {code!r}.")
    name_fr, name_en, department = name_fr.strip(), name_en.strip(), department.strip()
    if not name_fr or not name_en or not department:
        raise CatalogueError("A service needs its French and English names and a department.")
    if not 0 <= target_days <= 365:
        raise CatalogueError("Target days go from 0 to 365.")
    new = {
        "name_fr": name_fr[:200],
        "name_en": name_en[:200],
        "target_days": target_days,
        "working_days": working_days,
        "department": department[:100],
        "active": active,
    }
    changed = {k: [getattr(service, k), v] for k, v in new.items() if getattr(service, k) != v}
    if not changed:
        return service
    for key, value in new.items():
        setattr(service, key, value)
    session.add(service)
    audit.record(
        session=session,
        actor=actor,
        action="service.updated",
        target=f"service:{code}",
        details={"changed": changed},
    )
    session.commit()
    return service
