"""Schemas of the staff triage resources (agents and supervisors)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from backend.models.report import ReportStatus

STATUSES = [s.value for s in ReportStatus]
LANGS = ["fr", "en"]


TABS = ["work", "mine", "team", "new", "overdue", "waiting", "all"]
BULK_ACTIONS = ["assign", "status"]


class TriageQueryArgsSchema(ma.Schema):
    """Filters of the triage queue."""

    needs_triage = fields.Boolean(
        metadata={
            "description": "Reports whose category waits for a human (the default without "
            "a tab), or, with false, the reports already routed; with a tab: either, unless "
            "given."
        },
    )
    tab = fields.String(
        validate=validate.OneOf(TABS),
        metadata={
            "description": "A queue, not closed: work (assigned to me or my team), mine, "
            "team, new (received), overdue (past due), waiting (for the resident), all."
        },
    )
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Search: an id, a tracking id, words of the text or address."},
    )
    team_code = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer(validate=validate.Range(min=1))
    service_code = fields.String(validate=validate.Length(min=1, max=64))
    area_code = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "One status; by default the open ones "
            "(received, open, in_progress, waiting)."
        },
    )
    lang = fields.String(
        validate=validate.OneOf(LANGS),
        metadata={
            "description": "Language of service names and link labels (default: "
            "Accept-Language, then French)."
        },
    )


class ReportQueryArgsSchema(ma.Schema):
    """Options of a report's staff view."""

    lang = fields.String(validate=validate.OneOf(LANGS))
    include_contact = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Decrypt the resident's contact details (agents and supervisors); "
            "every read is written to the audit log (contact.read)."
        },
    )


class PriorityPartsSchema(ma.Schema):
    """The three parts of the priority; the priority is their sum."""

    uncertainty = fields.Float(
        metadata={
            "description": "2 x (1 - classifier confidence) while the report needs triage, else 0."
        }
    )
    lateness = fields.Float(
        metadata={"description": "Age in days / target days of the service, at most 3."}
    )
    links = fields.Float(
        metadata={
            "description": "Links to official incidents: sum of rule weight x severity "
            "x sqrt(count), at most max_priority_boost (5)."
        }
    )


class IncidentLinkSchema(ma.Schema):
    """An official incident linked to the report (close in space and time, by a rule)."""

    incident_id = fields.Integer()
    source = fields.String()
    external_id = fields.String()
    kind = fields.String()
    occurred_at = fields.String(metadata={"description": "ISO 8601."})
    address = fields.String(allow_none=True)
    area_code = fields.String(allow_none=True)
    count = fields.Integer()
    distance_m = fields.Float()
    lag_hours = fields.Float(
        metadata={"description": "Incident time minus report time (negative: before)."}
    )
    rule = fields.String()
    rule_label = fields.String(metadata={"description": "The rule, in words."})
    boost = fields.Float(metadata={"description": "What this link adds before the cap."})
    details = fields.Dict(
        metadata={"description": "Severity, lighting, intersection, weather, vehicles, night."}
    )


class TriageItemSchema(ma.Schema):
    """A report in the triage queue, with its priority explained and its links."""

    id = fields.Integer()
    tracking_id = fields.String()
    status = fields.String(metadata={"enum": STATUSES})
    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    predicted_code = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)
    needs_triage = fields.Boolean()
    area_code = fields.String(allow_none=True)
    area_name = fields.String(allow_none=True, metadata={"description": "The quartier's name."})
    team_code = fields.String(allow_none=True)
    team_name = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    assignee_email = fields.String(allow_none=True)
    due_at = fields.DateTime(
        allow_none=True, metadata={"description": "The service's target after arrival."}
    )
    overdue = fields.Boolean(metadata={"description": "Past its due date (or closed late)."})
    version = fields.String(
        metadata={"description": "Its last change; the ETag of the report hashes it."}
    )
    address = fields.String(allow_none=True)
    description = fields.String(
        metadata={"description": "The resident's own words (staff only, never published)."}
    )
    created_at = fields.DateTime()
    priority = fields.Float(metadata={"description": "uncertainty + lateness + links."})
    priority_parts = fields.Nested(PriorityPartsSchema)
    age_days = fields.Float()
    target_days = fields.Integer(metadata={"description": "The service's target time to fix."})
    links = fields.List(fields.Nested(IncidentLinkSchema))


class CandidateSchema(ma.Schema):
    """One of the classifier's top categories."""

    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)


class PredictionSchema(ma.Schema):
    """What the classifier said."""

    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)
    top = fields.List(fields.Nested(CandidateSchema), metadata={"description": "Top 3."})
    model_version = fields.String(allow_none=True)


class HistoryStepSchema(ma.Schema):
    """One step of the status history."""

    status = fields.String()
    public_note = fields.String(
        allow_none=True, metadata={"description": "As written; never published as is."}
    )
    public_note_published = fields.String(
        allow_none=True,
        metadata={
            "description": "The note as the public sees it, scrubbed of personal data; "
            "null until a worker has scrubbed it (nothing of the note is public until then)."
        },
    )
    public_note_removed = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "Kinds of personal data the scrubbing removed (name, phone...)."},
    )
    scrub_pending = fields.Boolean(
        metadata={"description": "True while the note waits for a worker to scrub it."}
    )
    author = fields.String(allow_none=True, metadata={"description": "Never published."})
    created_at = fields.DateTime()


class CorrectionSchema(ma.Schema):
    """A category set by staff (a gold label for the classifier)."""

    service_code = fields.String()
    predicted_code = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ContactOutSchema(ma.Schema):
    """The resident's contact details (only on request; each read is logged)."""

    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    consent_notifications = fields.Boolean()


class StaffReportSchema(TriageItemSchema):
    """A report as triage staff see it."""

    description_public = fields.String(
        allow_none=True, metadata={"description": "Scrubbed of personal data."}
    )
    address_public = fields.String(
        allow_none=True,
        metadata={"description": "The address as published, scrubbed; null until scrubbed."},
    )
    service_hint = fields.String(
        allow_none=True, metadata={"description": "The category the resident chose, if any."}
    )
    service_hint_name = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    photo_url = fields.String(allow_none=True)
    source = fields.String()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    prediction = fields.Nested(PredictionSchema)
    history = fields.List(fields.Nested(HistoryStepSchema))
    corrections = fields.List(fields.Nested(CorrectionSchema))
    allowed_statuses = fields.List(
        fields.String(), metadata={"description": "Where POST .../status may move it now."}
    )
    has_contact = fields.Boolean()
    assignments = fields.List(
        fields.Nested(lambda: AssignmentStepSchema()),
        metadata={"description": "Internal history of who was given the case, and why."},
    )
    contact = fields.Nested(
        ContactOutSchema,
        allow_none=True,
        metadata={"description": "Only with include_contact=true; null otherwise."},
    )


class CategoryCorrectionSchema(ma.Schema):
    """A category chosen by staff."""

    service_code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "An active code of GET /api/v1/services."},
    )


class StatusChangeSchema(ma.Schema):
    """A new status, with the note the resident will read."""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    public_note = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Shown to the resident; required for rejected."},
    )


class AssignmentStepSchema(ma.Schema):
    """One change of who works a report (internal, never published)."""

    actor = fields.String()
    at = fields.DateTime()
    from_team = fields.String(allow_none=True)
    to_team = fields.String(allow_none=True)
    from_assignee = fields.Integer(allow_none=True)
    to_assignee = fields.Integer(allow_none=True)
    to_assignee_email = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class ReportVersionSchema(ma.Schema):
    """What the ETag of a report hashes: its id and version."""

    id = fields.Integer()
    version = fields.String()


class ReportPatchSchema(ma.Schema):
    """Changes to a report, applied together (If-Match required)."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    public_note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    team_code = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer(validate=validate.Range(min=1))
    reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"description": "Why: required to reassign a report already assigned."},
    )

    @ma.validates_schema
    def _something(self, data: dict[str, object], **_kw: object) -> None:
        if not any(k in data for k in ("status", "team_code", "assignee_id")):
            raise ma.ValidationError("Give a status, a team_code or an assignee_id.")


class BulkActionSchema(ma.Schema):
    """One action on a selection of reports, all or nothing."""

    report_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )
    action = fields.String(required=True, validate=validate.OneOf(BULK_ACTIONS))
    team_code = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer(validate=validate.Range(min=1))
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))
    status = fields.String(validate=validate.OneOf(STATUSES))
    public_note = fields.String(allow_none=True, validate=validate.Length(max=2000))

    @ma.validates_schema
    def _complete(self, data: dict[str, object], **_kw: object) -> None:
        if data.get("action") == "status" and not data.get("status"):
            raise ma.ValidationError({"status": ["Required for the action 'status'."]})
        if data.get("action") == "assign" and not (
            data.get("team_code") or data.get("assignee_id")
        ):
            raise ma.ValidationError({"team_code": ["Give a team_code or an assignee_id."]})


class BulkResultSchema(ma.Schema):
    """What a bulk action changed."""

    updated = fields.Integer()
    report_ids = fields.List(fields.Integer())


class TabCountsSchema(ma.Schema):
    """How many reports each tab of the queue holds."""

    work = fields.Integer()
    mine = fields.Integer()
    team = fields.Integer()
    new = fields.Integer()
    overdue = fields.Integer()
    waiting = fields.Integer()
    all = fields.Integer()
