"""Demo case work, so that ``make run`` shows it: response templates for the main services,
internal notes on some open reports, and one merged pair of duplicates."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from backend.models import (
    AuditLog,
    Report,
    ReportNote,
    ReportStatus,
    ReportUpdate,
    ResponseTemplate,
)

TEMPLATES: list[tuple[str | None, str, str, str, str]] = [
    # service (None: every one), status, title, French, English
    (
        None,
        "waiting",
        "Précisions sur le lieu",
        "Bonjour, pour intervenir sur le signalement {tracking_id} nous avons besoin de "
        "précisions : pouvez-vous indiquer le numéro de la rue ou un repère proche ?",
        "Hello, to act on report {tracking_id} we need more details: could you give the "
        "street number or a landmark nearby?",
    ),
    (
        None,
        "in_progress",
        "Pris en charge",
        "Votre signalement ({service}, {area}) est pris en charge : intervention prévue "
        "avant le {due_date}.",
        "Your report ({service}, {area}) is being handled: we plan to act by {due_date}.",
    ),
    (
        "streetlight",
        "fixed",
        "Lampadaire réparé",
        "Le point lumineux signalé ({area}) a été réparé. Merci de votre signalement !",
        "The street light you reported ({area}) has been repaired. Thank you!",
    ),
    (
        "road_damage",
        "in_progress",
        "Réfection programmée",
        "La réparation de la chaussée ({area}) est programmée avant le {due_date}.",
        "The road repair ({area}) is scheduled before {due_date}.",
    ),
    (
        "illegal_dumping",
        "fixed",
        "Dépôt enlevé",
        "Le dépôt signalé ({area}) a été enlevé par les services de propreté.",
        "The dumped waste you reported ({area}) has been removed.",
    ),
    (
        "waste_bins",
        "fixed",
        "Collecte effectuée",
        "Une collecte supplémentaire a été faite ({area}). Merci !",
        "An extra collection was made ({area}). Thank you!",
    ),
    (
        "graffiti",
        "rejected",
        "Mur privé",
        "Ce mur est privé : le nettoyage revient à son propriétaire, que nous avons informé.",
        "This wall is private: cleaning it is its owner's duty; we have informed them.",
    ),
]

NOTES = [
    "Équipe passée, pièce à commander.",
    "Appel du syndic : même problème signalé la semaine dernière.",
    "À regrouper avec l'intervention prévue dans la rue.",
    "Vérifier sur place avant de clore.",
]


def add_casework_demo(*, session: Session, rng: random.Random) -> str:
    """Add the templates, notes and merged pair; a summary line."""
    for service, status, title, fr, en in TEMPLATES:
        session.add(
            ResponseTemplate(
                service_code=service,
                status=status,
                title=title,
                body_fr=fr,
                body_en=en,
                updated_by="demo",
            )
        )
    open_reports = list(
        session.exec(
            select(Report)
            .where(col(Report.source) == "demo", col(Report.closed_at).is_(None))
            .where(col(Report.lat).is_not(None))
            .order_by(col(Report.id))
            .limit(400)
        )
    )
    noted = rng.sample(open_reports, min(25, len(open_reports)))
    for report in noted:
        assert report.id is not None
        session.add(
            ReportNote(
                report_id=report.id,
                body=rng.choice(NOTES),
                author="demo",
                created_at=report.created_at + timedelta(hours=rng.randint(2, 48)),
            )
        )
    merged = 0
    # Two open reports of one service: the second becomes a duplicate of the first, moved
    # next to it (the demo keeps its number of reports).
    by_service: dict[str | None, list[Report]] = {}
    for report in open_reports:
        by_service.setdefault(report.service_code, []).append(report)
    pairs = [found for found in by_service.values() if len(found) >= 2]
    if pairs:
        keep, duplicate = pairs[0][0], pairs[0][1]
        assert keep.id is not None and keep.lat is not None and duplicate.id is not None
        created = keep.created_at + timedelta(hours=3)
        duplicate.lat, duplicate.lon = keep.lat + 0.0003, keep.lon
        duplicate.area_code = keep.area_code
        duplicate.created_at, duplicate.updated_at = created, created + timedelta(hours=1)
        previous = duplicate.status
        duplicate.status = ReportStatus.DUPLICATE
        duplicate.duplicate_of_id = keep.id
        duplicate.closed_at = created + timedelta(hours=1)
        session.add(duplicate)
        for step in session.exec(
            select(ReportUpdate).where(ReportUpdate.report_id == duplicate.id)
        ):
            step.created_at = created
            session.add(step)
        session.add(
            ReportUpdate(
                report_id=duplicate.id,
                status="duplicate",
                created_at=created + timedelta(hours=1),
                author="demo",
            )
        )
        # What un-merging reads back (backend.services.merge).
        session.add(
            AuditLog(
                actor="demo",
                action="report.merged",
                target=f"report:{duplicate.id}",
                details={
                    "into": keep.id,
                    "previous_status": previous,
                    "moved_subscriptions": [],
                    "moved_photo": None,
                },
                at=created + timedelta(hours=1),
            )
        )
        merged = 1
    session.commit()
    return f"{len(TEMPLATES)} response templates, {len(noted)} internal notes, {merged} merged pair"
