"""The data model. Importing this package registers every table on ``SQLModel.metadata``."""

from backend.models.area import Area
from backend.models.contact import Contact
from backend.models.idempotency import IdempotencyRecord
from backend.models.incident import Incident, ReportIncidentLink
from backend.models.outbox import OutboxMessage
from backend.models.report import Report, ReportStatus, ReportUpdate
from backend.models.service import Service

__all__ = [
    "Area",
    "Contact",
    "IdempotencyRecord",
    "Incident",
    "OutboxMessage",
    "Report",
    "ReportIncidentLink",
    "ReportStatus",
    "ReportUpdate",
    "Service",
]
