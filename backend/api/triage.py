"""The staff triage API: the queue ranked by priority, a report, its category and status.

Agents and supervisors only, each within their scope (the services of their account or
department); a report outside it is answered exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from backend.api.common import fail
from backend.api.reports import contact_cipher
from backend.auth import current_staff, roles_required, visible_or_404
from backend.extensions import db, redis_conn
from backend.models import Report
from backend.schemas.triage import (
    BulkActionSchema,
    BulkResultSchema,
    CategoryCorrectionSchema,
    ReportPatchSchema,
    ReportQueryArgsSchema,
    ReportVersionSchema,
    StaffReportSchema,
    StatusChangeSchema,
    TabCountsSchema,
    TriageItemSchema,
    TriageQueryArgsSchema,
)
from backend.services import assignment, bulk, public_notes, triage
from backend.services.access import can_read_contacts
from backend.services.versions import version_of
from backend.staff import report_view
from backend.staff.pages import staff_language

blp = Blueprint(
    "triage_api",
    __name__,
    url_prefix="/api/v1/staff",
    description="Triage of reports (agents and supervisors, within their services).",
)

NOT_FOUND = "No report has this id."
TRIAGE_ROLES = ("agent", "supervisor")


def _lang(args: dict[str, Any] | None = None) -> str:
    return str((args or {}).get("lang") or staff_language())


def _report(report_id: int) -> Report:
    found = triage.visible_report(session=db.session, staff=current_staff(), report_id=report_id)
    return visible_or_404(found, message=NOT_FOUND)


@blp.route("/triage")
class TriageQueue(MethodView):
    """The reports to look at, most urgent first."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(TriageQueryArgsSchema, location="query")
    @blp.response(200, TriageItemSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """The triage queue: priority = uncertainty + lateness + links, each part given.

        Paginated (``page``, ``page_size``, ``X-Pagination``); by default the open reports of
        your services whose category waits for a human; with ``tab`` one of the queues of
        the staff pages (``work``: assigned to you or your team), ``q`` a search.
        """
        lang = _lang(args)
        items, total = report_view.triage_queue(
            session=db.session,
            staff=current_staff(),
            filters=_filters(args),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            lang=lang,
        )
        pagination_parameters.item_count = total
        return items


def _filters(args: dict[str, Any]) -> triage.TriageFilters:
    tab = args.get("tab")
    return triage.TriageFilters(
        needs_triage=args.get("needs_triage", None if tab else True),
        service_code=args.get("service_code"),
        area_code=args.get("area_code"),
        status=args.get("status"),
        tab=tab,
        search=args.get("q"),
        team_code=args.get("team_code"),
        assignee_id=args.get("assignee_id"),
    )


@blp.route("/triage/counts")
class TriageCounts(MethodView):
    """How many reports each queue holds."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(TriageQueryArgsSchema, location="query")
    @blp.response(200, TabCountsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, int]:
        """The count of each tab (work, mine, team, new, overdue, waiting, all), with the
        other filters given (service, area, search...)."""
        return triage.tab_counts(session=db.session, staff=current_staff(), filters=_filters(args))


def _version(report: Report) -> dict[str, Any]:
    return {"id": report.id, "version": version_of(report)}


def _check_if_match(report: Report) -> None:
    """For the POST actions: an If-Match sent must name the current version (412 if not)."""
    if request.if_match and not request.if_match.contains(
        blp._generate_etag(ReportVersionSchema().dump(_version(report)))
    ):
        fail(412, PRECONDITION_FAILED)


PRECONDITION_FAILED = (
    "The report changed since you read it (If-Match does not match its ETag): read it again."
)


@blp.route("/reports/<dbint:report_id>")
class StaffReport(MethodView):
    """One report, for staff."""

    @roles_required(*TRIAGE_ROLES)
    @blp.etag
    @blp.arguments(ReportQueryArgsSchema, location="query")
    @blp.response(200, StaffReportSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    def get(self, args: dict[str, Any], report_id: int) -> dict[str, Any]:
        """The report: original words, prediction, hint, history, links, priority.

        ``include_contact=true`` adds the resident's contact details, after writing the read
        to the audit log.
        """
        staff = current_staff()
        report = _report(report_id)
        contact = None
        if args["include_contact"]:
            if not can_read_contacts(staff):
                fail(403, f"The role {staff.role!r} may not read contact details.")
            contact = triage.read_contact_logged(
                session=db.session, cipher=contact_cipher(), report=report, staff=staff
            )
        blp.set_etag(_version(report), ReportVersionSchema)
        return report_view.staff_view(
            session=db.session, report=report, lang=_lang(args), contact=contact
        )

    @roles_required(*TRIAGE_ROLES)
    @blp.etag
    @blp.arguments(ReportPatchSchema)
    @blp.response(200, StaffReportSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    @blp.alt_response(409, description="A move the workflow refuses")
    @blp.alt_response(422, description="An assignment or note refused")
    def patch(self, data: dict[str, Any], report_id: int) -> dict[str, Any]:
        """Change the status and/or who works the report, together; If-Match required.

        Send the ETag of your last read in ``If-Match``: 428 without it, 412 if the report
        changed meanwhile (read it again: the answer's ``assignments`` and ``history`` say
        what changed). Reassigning a report already assigned needs a ``reason``.
        """
        staff = current_staff()
        report = _report(report_id)
        blp.check_etag(_version(report), ReportVersionSchema)
        try:
            change = None
            if "team_code" in data or "assignee_id" in data:
                change = assignment.check_assignment(
                    session=db.session,
                    report=report,
                    team_code=data.get("team_code"),
                    assignee_id=data.get("assignee_id"),
                    reason=data.get("reason"),
                )
            status = None
            if "status" in data:
                status = triage.check_status_change(
                    report=report, status=data["status"], public_note=data.get("public_note")
                )
        except assignment.AssignmentError as exc:
            fail(422, str(exc), errors={"json": {exc.reason: [str(exc)]}})
        except triage.StatusChangeError as exc:
            fail(409 if exc.reason == "transition" else 422, str(exc))
        try:
            if change is not None:
                assignment.apply_assignment(
                    session=db.session, report=report, change=change, staff=staff
                )
            if status is not None:
                triage.apply_status_change(
                    session=db.session, report=report, target=status[0], note=status[1], staff=staff
                )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        blp.set_etag(_version(report), ReportVersionSchema)
        return report_view.staff_view(session=db.session, report=report, lang=_lang())


@blp.route("/reports/bulk")
class BulkAction(MethodView):
    """One action on many reports."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(BulkActionSchema)
    @blp.response(200, BulkResultSchema)
    @blp.alt_response(422, description="Some reports cannot take the action: none changed")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Assign, or set a status with a public note, on every report of ``report_ids``.

        All or nothing, in one transaction, each report audited. When any report cannot take
        the action nothing changes, and the 422's ``errors.report_ids`` lists which and why.
        """
        try:
            changed = bulk.bulk_apply(
                session=db.session,
                staff=current_staff(),
                report_ids=data["report_ids"],
                action=data["action"],
                team_code=data.get("team_code"),
                assignee_id=data.get("assignee_id"),
                reason=data.get("reason"),
                status=data.get("status"),
                public_note=data.get("public_note"),
            )
        except bulk.BulkRefusedError as exc:
            fail(
                422,
                str(exc),
                errors={
                    "report_ids": {
                        str(r.report_id): {"reason": r.reason, "message": r.message}
                        for r in exc.refusals
                    }
                },
            )
        return {"updated": len(changed), "report_ids": [r.id for r in changed]}


@blp.route("/reports/<dbint:report_id>/category")
class ReportCategory(MethodView):
    """The report's category, set by staff."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(CategoryCorrectionSchema)
    @blp.response(200, StaffReportSchema)
    @blp.alt_response(400, description="Unknown or inactive service code")
    @blp.alt_response(404, description="No such report, or outside your services")
    def post(self, data: dict[str, Any], report_id: int) -> dict[str, Any]:
        """Correct (or confirm) the category: stored as a gold label, the report leaves triage.

        The report's links are recomputed and its public figures refreshed (queued jobs).
        """
        report = _report(report_id)
        _check_if_match(report)
        try:
            triage.correct(
                session=db.session,
                report=report,
                service_code=data["service_code"],
                staff=current_staff(),
            )
        except triage.UnknownCategoryError as exc:
            fail(400, str(exc), errors={"json": {"service_code": [str(exc)]}})
        return report_view.staff_view(session=db.session, report=report, lang=_lang())


@blp.route("/reports/<dbint:report_id>/status")
class ReportStatusChange(MethodView):
    """The report's status, set by staff."""

    @roles_required(*TRIAGE_ROLES)
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, StaffReportSchema)
    @blp.alt_response(404, description="No such report, or outside your services")
    @blp.alt_response(409, description="A move the workflow refuses")
    def post(self, data: dict[str, Any], report_id: int) -> dict[str, Any]:
        """Set the status with a public note (required for rejected); the history records it.

        The public figures follow (a refresh queued in the same transaction).
        """
        report = _report(report_id)
        _check_if_match(report)
        try:
            update = triage.change_status(
                session=db.session,
                report=report,
                status=data["status"],
                public_note=data.get("public_note"),
                staff=current_staff(),
            )
        except triage.StatusChangeError as exc:
            if exc.reason in ("transition", "merged"):
                fail(409, str(exc))
            fail(422, str(exc), errors={"json": {"public_note": [str(exc)]}})
        if update.public_note and update.id is not None:
            # So that the answer's last history step shows the published note and what the
            # scrubbing removed (``scrub_pending`` when no worker answered in time).
            public_notes.wait_until_scrubbed(
                session=db.session,
                connection=redis_conn.client,
                update_id=update.id,
                wait_seconds=current_app.config["CLASSIFY_WAIT_SECONDS"],
            )
            db.session.refresh(report)
        return report_view.staff_view(session=db.session, report=report, lang=_lang())
