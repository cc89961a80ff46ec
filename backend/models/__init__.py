"""The data model. Importing this package registers every table on ``SQLModel.metadata``."""

from backend.models.aggregate import (
    AggregateCell,
    AggregateReportKey,
    AggregateState,
    PublishedCell,
)
from backend.models.apikey import (
    ApiKey,
    ExternalUpdate,
    Open311Contact,
    Open311Request,
    ServiceAttribute,
)
from backend.models.area import Area
from backend.models.casework import ReportNote, ResponseTemplate, StaffSnapshot
from backend.models.contact import Contact
from backend.models.event import Event, EventResource
from backend.models.event_profile import EventProfile
from backend.models.feedback import Feedback
from backend.models.idempotency import IdempotencyRecord
from backend.models.incident import Incident, ReportIncidentLink
from backend.models.nlp import CategoryCorrection, ModelVersion
from backend.models.notification import (
    Notification,
    NotificationChannel,
    NotificationStatus,
    WebhookEndpoint,
)
from backend.models.outbox import OutboxMessage
from backend.models.published_map import PublishedMap
from backend.models.report import Report, ReportAddition, ReportStatus, ReportUpdate
from backend.models.service import Service
from backend.models.signal import Signal, SignalKind, SignalStatus
from backend.models.staff import AuditLog, Role, StaffToken, StaffUser
from backend.models.street import Street
from backend.models.subscription import Subscription
from backend.models.team import RoutingRule, SavedFilter, Team

__all__ = [
    "AggregateCell",
    "AggregateReportKey",
    "AggregateState",
    "PublishedCell",
    "PublishedMap",
    "Feedback",
    "ApiKey",
    "Area",
    "CategoryCorrection",
    "AuditLog",
    "Contact",
    "Event",
    "EventProfile",
    "EventResource",
    "ExternalUpdate",
    "IdempotencyRecord",
    "Incident",
    "ModelVersion",
    "Notification",
    "NotificationChannel",
    "NotificationStatus",
    "Open311Contact",
    "Open311Request",
    "OutboxMessage",
    "Report",
    "ReportAddition",
    "ReportIncidentLink",
    "ReportNote",
    "ReportStatus",
    "ReportUpdate",
    "ResponseTemplate",
    "RoutingRule",
    "SavedFilter",
    "Role",
    "Service",
    "ServiceAttribute",
    "Signal",
    "SignalKind",
    "SignalStatus",
    "StaffSnapshot",
    "StaffToken",
    "StaffUser",
    "Street",
    "Subscription",
    "Team",
    "WebhookEndpoint",
]
