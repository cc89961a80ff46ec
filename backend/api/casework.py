"""The staff case-work API: internal notes, duplicates and merges, response templates.

Notes and merges: agents and supervisors within their services (a report outside them is
answered like a missing one). Templates: admins edit them; agents read them filled in for a
report (``GET .../casework``).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.common import fail
from backend.auth import current_staff, roles_required, visible_or_404
from backend.extensions import db
from backend.models import Report, ResponseTemplate
from backend.schemas.casework import (
    CaseworkSchema,
    DashboardArgsSchema,
    DashboardSchema,
    MapArgsSchema,
    MapSchema,
    MergeInSchema,
    NoteInSchema,
    NoteSchema,
    TemplateInSchema,
    TemplateSchema,
)
from backend.services import dashboard, merge, notes, queue_map, response_templates, triage
from backend.services.access import service_scope
from backend.staff.casework_view import casework_view
from backend.staff.pages import staff_language

blp = Blueprint(
    "casework_api",
    __name__,
    url_prefix="/api/v1/staff",
    description="Case work: internal notes, duplicates and merges, response templates.",
)

NOT_FOUND = "No report has this id."
TRIAGE_ROLES = ("agent", "supervisor")


def _report(report_id: int) -> Report:
    found = triage.visible_report(session=db.session, staff=current_staff(), report_id=report_id)
    return visible_or_404(found, message=NOT_FOUND)


def _view(report: Report) -> dict[str, Any]:
    return casework_view(
        session=db.session, report=report, staff=current_staff(), lang=staff_language()
    )


@blp.route("/reports/<dbint:report_id>/casework")
class Casework(MethodView):
    """Notes, usable templates, likely duplicates, merged reports, photos, nearby reports."""

    @roles_required(*TRIAGE_ROLES)
    @blp.response(200, CaseworkSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    def get(self, report_id: int) -> dict[str, Any]:
        """The case-work view of a report (templates filled in, in the report's language)."""
        return _view(_report(report_id))


@blp.route("/reports/<dbint:report_id>/notes")
class Notes(MethodView):
    """Internal notes: staff only, never public, never in Open311 or exports."""

    @roles_required(*TRIAGE_ROLES)
    @blp.response(200, NoteSchema(many=True))
    @blp.alt_response(404, description="No such report, or outside your services")
    def get(self, report_id: int) -> list[Any]:
        """The report's internal notes, oldest first."""
        return notes.list_notes(session=db.session, report=_report(report_id))

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(NoteInSchema)
    @blp.response(201, NoteSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    def post(self, data: dict[str, Any], report_id: int) -> Any:
        """Add an internal note (audited: ``report.note_added``)."""
        report = _report(report_id)
        try:
            return notes.add_note(
                session=db.session, report=report, body=data["body"], staff=current_staff()
            )
        except notes.NoteError as exc:
            fail(422, str(exc), errors={"json": {"body": [str(exc)]}})


@blp.route("/reports/<dbint:report_id>/merge")
class Merge(MethodView):
    """Merge a duplicate into this report."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(MergeInSchema)
    @blp.response(200, CaseworkSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    @blp.alt_response(409, description="These two reports cannot be merged")
    def post(self, data: dict[str, Any], report_id: int) -> dict[str, Any]:
        """Keep this report; close ``duplicate_id`` as its duplicate, moving its followers and
        photo (audited: ``report.merged``, ``report.merge_kept``)."""
        keep = _report(report_id)
        duplicate = _report(data["duplicate_id"])
        try:
            merge.merge(session=db.session, keep=keep, duplicate=duplicate, staff=current_staff())
        except merge.MergeError as exc:
            fail(409, str(exc))
        return _view(keep)


@blp.route("/reports/<dbint:report_id>/unmerge")
class Unmerge(MethodView):
    """Undo the merge of this report into another one."""

    @roles_required(*TRIAGE_ROLES)
    @blp.response(200, CaseworkSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    @blp.alt_response(409, description="This report was not merged")
    @blp.alt_response(413, description="Body larger than allowed")
    def post(self, report_id: int) -> dict[str, Any]:
        """Status, followers and photo come back (audited: ``report.unmerged``)."""
        report = _report(report_id)
        try:
            merge.unmerge(session=db.session, duplicate=report, staff=current_staff())
        except merge.MergeError as exc:
            fail(409, str(exc))
        return _view(report)


def _save(data: dict[str, Any], template: ResponseTemplate | None) -> ResponseTemplate:
    try:
        return response_templates.save_template(
            session=db.session, staff=current_staff(), template=template, **data
        )
    except response_templates.TemplateError as exc:
        fail(422, str(exc), errors={"json": {exc.field: [str(exc)]}})


@blp.route("/templates")
class Templates(MethodView):
    """Response templates (admins)."""

    @roles_required("admin")
    @blp.response(200, TemplateSchema(many=True))
    def get(self) -> list[Any]:
        """Every template."""
        return response_templates.list_templates(session=db.session)

    @roles_required("admin")
    @blp.arguments(TemplateInSchema)
    @blp.response(201, TemplateSchema)
    @blp.alt_response(422, description="Unknown service or placeholder")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a template; placeholders other than {tracking_id}, {service}, {area},
        {due_date} are refused (audited: ``template.created``)."""
        return _save(data, None)


@blp.route("/templates/<dbint:template_id>")
class TemplateItem(MethodView):
    """One response template (admins)."""

    @roles_required("admin")
    @blp.response(200, TemplateSchema)
    @blp.alt_response(404, description="No such template")
    def get(self, template_id: int) -> Any:
        """The template."""
        return visible_or_404(
            response_templates.get_template(session=db.session, template_id=template_id),
            message="No template has this id.",
        )

    @roles_required("admin")
    @blp.arguments(TemplateInSchema)
    @blp.response(200, TemplateSchema)
    @blp.alt_response(404, description="No such template")
    @blp.alt_response(422, description="Unknown service or placeholder")
    def put(self, data: dict[str, Any], template_id: int) -> Any:
        """Replace the template (audited: ``template.updated``)."""
        found = visible_or_404(
            response_templates.get_template(session=db.session, template_id=template_id),
            message="No template has this id.",
        )
        return _save(data, found)


@blp.route("/dashboard")
class Dashboard(MethodView):
    """The services' figures (supervisors: their department; analysts and admins: all)."""

    @roles_required("supervisor", "analyst", "admin")
    @blp.arguments(DashboardArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Backlog, overdue, time to fix (median, p90), reopen rate, satisfaction per service
        and team, inflow and outflow per week: the figures of ``/staff/dashboard``."""
        staff = current_staff()
        code = args.get("service_code")
        scope = service_scope(staff, db.session)
        if code is not None and scope is not None and code not in scope:
            fail(404, "No service of yours has this code.")
        figures = dashboard.cached(session=db.session, weeks=args["weeks"])
        return dashboard.for_staff(
            session=db.session,
            figures=figures,
            staff=staff,
            lang=args.get("lang") or staff_language(),
            service_code=code,
        )


@blp.route("/map")
class QueueMap(MethodView):
    """The triage queue on a map, grouped by a grid (bounded answer)."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(MapArgsSchema, location="query")
    @blp.response(200, MapSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The reports of the queue's filters in the box, one Point a report or a group."""
        staff = current_staff()
        scope = service_scope(staff, db.session)
        code = args.get("service_code")
        if code is not None and scope is not None and code not in scope:
            fail(404, "No service of yours has this code.")
        return queue_map.queue_map(
            session=db.session,
            staff=staff,
            filters=triage.TriageFilters(
                needs_triage=args["needs_triage"],
                service_code=code,
                area_code=args.get("area_code"),
                status=args.get("status"),
            ),
            box=queue_map.Box(
                south=args["south"], west=args["west"], north=args["north"], east=args["east"]
            ),
            zoom=args["zoom"],
        )
