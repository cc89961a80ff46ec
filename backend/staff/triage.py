"""The ``/staff/triage`` and ``/staff/reports/<id>`` pages: the triage queue and a report.

A blueprint of its own (``staff_triage``) beside the ``/staff`` pages, sharing their layout
(``render_staff``), their login, their CSRF protection (``staff_page_required``) and their error
pages. Agents and supervisors only, within their scope; everything goes through
``backend.services.triage``, as the JSON API does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.api.reports import contact_cipher
from backend.auth import current_staff
from backend.extensions import db, redis_conn
from backend.models import Report
from backend.services import public_notes, response_templates, triage
from backend.services.access import can_read_contacts, service_scope
from backend.services.catalogue import list_services
from backend.services.contacts import ContactDetails
from backend.services.reading import mark_read
from backend.services.workflow import STATUSES
from backend.staff import report_view
from backend.staff.casework_view import casework_view
from backend.staff.pages import (
    N_,
    NP_,
    Message,
    error_page,
    harden_page,
    render_staff,
    staff_language,
    staff_page_required,
    translated,
)

bp = Blueprint("staff_triage", __name__, url_prefix="/staff", template_folder="templates")

PAGE_SIZE = 50
TRIAGE_ROLES = ("agent", "supervisor")

TEXT: dict[str, Message] = {
    "heading": N_("Triage queue"),
    "intro": N_(
        "The reports of your services, most urgent first. Priority = uncertainty of the "
        "category + lateness against the service's target + links to official incidents."
    ),
    "needs_triage": N_("Category"),
    "to_triage": N_("to check"),
    "routed": N_("already checked"),
    "service": N_("Service"),
    "area": N_("Quartier (code)"),
    "status": N_("Status"),
    "open_statuses": N_("open"),
    "filter": N_("Filter"),
    "all": N_("all"),
    "count": N_("reports"),
    "none": N_("No report for these filters."),
    "priority": N_("Priority"),
    "uncertainty": N_("uncertainty"),
    "lateness": N_("lateness"),
    "links": N_("links"),
    "report": N_("Report"),
    "received_on": N_("received"),
    "age": N_("age"),
    "days": N_("d"),
    "target": N_("target"),
    "confidence": N_("confidence"),
    "description": N_("Description"),
    "incidents": N_("Linked official incidents"),
    "no_incidents": N_("none"),
    "at": N_("at"),
    "after": N_("after"),
    "before": N_("before"),
    "hours": N_("h"),
    "open": N_("Open"),
    "previous": N_("Previous page"),
    "next": N_("Next page"),
    "page": N_("Page"),
    "saved_category": N_("Category saved (a gold label for the classifier)."),
    "saved_status": N_("Status saved."),
    "detail_heading": N_("Report"),
    "original": N_("The report's text (staff only)"),
    "public_text": N_("Publishable text (personal data removed)"),
    "not_yet": N_("not yet"),
    "address": N_("Address"),
    "address_public": N_("Publishable address"),
    "note_published": N_("Published:"),
    "note_removed": N_("removed:"),
    "note_nothing_removed": N_("nothing removed"),
    "note_pending": N_("being scrubbed: nothing of it is public yet"),
    "position": N_("Position"),
    "photo": N_("Photo"),
    "followers": N_("Residents following it (+1)"),
    "prediction": N_("Automatic category"),
    "model": N_("model"),
    "hint": N_("Category chosen by the resident"),
    "no_hint": NP_("category", "none"),
    "history": N_("History"),
    "when": N_("Date"),
    "public_note": N_("Public note"),
    "author": N_("Author"),
    "corrections": N_("Category corrections"),
    "correct": N_("Correct the category"),
    "correct_help": N_(
        "Stored as a gold label to retrain the classifier; the report leaves the triage queue."
    ),
    "save_category": N_("Save the category"),
    "change_status": N_("Change the status"),
    "note_help": N_("Read by the resident on their tracking page; required for a rejection."),
    "save_status": N_("Save the status"),
    "no_transition": N_("No status change possible."),
    "contact": N_("The resident's contact details"),
    "has_contact": N_("The resident left contact details."),
    "no_contact": N_("No contact details."),
    "show_contact": N_("Show the contact details (the read is logged)"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "consent": N_("accepts notifications"),
    "back_to_queue": N_("Back to the triage queue"),
    "kind": N_("Kind"),
    "distance": N_("Distance"),
    "lag": N_("Lag"),
    "rule": N_("Rule"),
    "source": N_("Source"),
    "m": N_("m"),
    "colon": N_(":"),
    "received_label": N_("Received"),
    "confidence_label": N_("Confidence"),
    "addition": N_("Information added by the resident"),
    "resident": N_("the resident"),
    "reopened_by_resident": N_("Reopened by the resident: not fixed"),
    "questionnaire": N_("The resident's questionnaire"),
    "answered": N_("Answered"),
    "really_fixed": N_("Really fixed?"),
    "yes": N_("yes"),
    "no": N_("no"),
    "reopened_yes": N_("the report was reopened"),
    "reopened_no": N_("answered after the reopening window: not reopened"),
    "satisfaction": N_("Satisfaction"),
    "comment": N_("Comment (never published)"),
    "no_answer": N_("No answer yet (the questionnaire opens once the report is fixed)."),
    "notes": N_("Internal notes"),
    "notes_help": N_("For the city's staff only: never shown to the resident nor published."),
    "no_notes": N_("No internal note."),
    "add_note": N_("Add the note"),
    "saved_note": N_("Internal note added."),
    "templates": N_("Answer with a template"),
    "templates_help": N_(
        "One click sets the status and sends the text as the public note, in the report's language."
    ),
    "use_template": N_("Send"),
    "duplicates": N_("Likely duplicates"),
    "duplicates_help": N_(
        "Same category, within 150 m and 14 days; score = 0.4 × nearness + 0.3 × closeness "
        "in time + 0.3 × similarity of the words."
    ),
    "no_duplicates": N_("No likely duplicate."),
    "score": N_("Score"),
    "similarity": N_("words in common"),
    "merge_here": N_("Merge it into this report"),
    "saved_merged": N_("Reports merged: the other one is closed as a duplicate of this one."),
    "saved_unmerged": N_("Merge undone: both reports are back on their own."),
    "merged_reports": N_("Reports merged into this one"),
    "merged_into": N_("This report was merged into report"),
    "unmerge": N_("Undo the merge"),
    "photos": N_("Photos"),
    "photo_of": N_("Photo of report"),
    "nearby": N_("Nearby reports (300 m, 60 days)"),
    "no_nearby": N_("No other report nearby."),
    "days_apart": N_("days apart"),
}

STATUS_NAMES: dict[str, Message] = {
    "received": NP_("report status", "received"),
    "open": NP_("report status", "open"),
    "in_progress": NP_("report status", "in progress"),
    "fixed": NP_("report status", "fixed"),
    "closed": NP_("report status", "closed"),
    "rejected": NP_("report status", "rejected"),
    "duplicate": NP_("report status", "duplicate"),
    "waiting": NP_("report status", "waiting for the resident"),
}

# The worst injury of an accident (BAAC), as linking counts it.
# The kinds of personal data the scrubber removes (``nlp.scrub.KINDS``), as agents read them.
KIND_NAMES: dict[str, str] = {
    "name": N_("name"),
    "phone": N_("phone"),
    "email": N_("e-mail"),
    "address": N_("address"),
    "plate": N_("plate"),
    "iban": N_("IBAN"),
}
SEVERITY_NAMES: dict[str, str] = {
    "killed": N_("killed"),
    "hospitalised": N_("hospitalised"),
    "light_injury": N_("light injury"),
    "unhurt": N_("unhurt"),
}

ERRORS: dict[str, str] = {
    "not_found": N_("No report has this number."),
    "unknown_service": N_("This service is not in the catalogue."),
    "transition": N_("This status change is not possible from the current status."),
    "received": N_("A report never goes back to 'received'."),
    "duplicate": N_("A duplicate is marked by merging it with the original report."),
    "already": N_("The report already has this status."),
    "note_required": N_("A public note is required for a rejection: say why."),
    "note_too_long": N_("The public note is limited to 2,000 characters."),
    "unknown_status": N_("Unknown status."),
    "question_required": N_(
        "Write the question to the resident: it is the public note they receive."
    ),
    "merged": N_("This report was merged into another one: un-merge it to reopen it."),
    "unknown_template": N_("This template cannot be used on this report."),
}


@bp.after_request
def _harden(response: Response) -> Response:
    # The error pages too, not only those behind staff_page_required.
    return harden_page(response)


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> tuple[str, int]:
    # Pages answer with pages (an expired form, a 404...), like the other /staff pages.
    return error_page(error)


def _lang_args() -> dict[str, Any]:
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("fr", "en") else {}


def _when(moment: datetime | str | None, lang: str) -> str:
    """A time for staff, in the city's time zone: ``04/03/2024 18:00`` or ``2024-03-04 18:00``."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(ZoneInfo(current_app.config["PUBLIC_TIMEZONE"]))
    return local.strftime("%Y-%m-%d %H:%M" if lang == "en" else "%d/%m/%Y %H:%M")


def _number(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _context(lang: str) -> dict[str, Any]:
    return {
        "tr": translated(TEXT, lang),
        "status_names": translated(STATUS_NAMES, lang),
        "severity_names": translated(SEVERITY_NAMES, lang),
        "kind_names": translated(KIND_NAMES, lang),
        "when": lambda moment: _when(moment, lang),
        "num": lambda value, digits=1: _number(value, lang, digits),
        "lang_args": _lang_args(),
    }


def _not_found(lang: str) -> tuple[str, int]:
    # Missing and out-of-scope ids get the same page.
    return render_staff(
        "staff/error.html", code=404, message=translated(ERRORS, lang)["not_found"]
    ), 404


def _flag(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "1", True)


@bp.route("/triage")
@staff_page_required(*TRIAGE_ROLES)
def queue() -> str:
    """The triage queue (filters: category to check or not, service, quartier, status)."""
    lang = staff_language()
    staff = current_staff()
    scope = service_scope(staff, db.session)
    services = [s for s in list_services(session=db.session) if scope is None or s.code in scope]
    service_code = request.args.get("service_code") or None
    status = request.args.get("status") or None
    filters = triage.TriageFilters(
        needs_triage=_flag(request.args.get("needs_triage")),
        service_code=service_code if service_code in {s.code for s in services} else None,
        area_code=(request.args.get("area_code") or "").strip()[:64] or None,
        status=status if status in STATUSES else None,
    )
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    items, total = report_view.triage_queue(
        session=db.session,
        staff=staff,
        filters=filters,
        page=page,
        page_size=PAGE_SIZE,
        lang=lang,
    )
    query: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if k in ("needs_triage", "service_code", "area_code", "status", "lang")
    }
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_staff(
        "staff/triage.html",
        items=items,
        total=total,
        filters=filters,
        services=[(s.code, s.name(lang)) for s in services],
        statuses=list(STATUSES),
        page=page,
        pages=pages,
        previous_url=url_for("staff_triage.queue", **query, page=page - 1) if page > 1 else None,
        next_url=url_for("staff_triage.queue", **query, page=page + 1) if page < pages else None,
        saved=request.args.get("saved"),
        **_context(lang),
    )


def _detail_page(
    report: Report,
    *,
    contact: ContactDetails | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    lang = staff_language()
    view = report_view.staff_view(session=db.session, report=report, lang=lang, contact=contact)
    return (
        render_staff(
            "staff/report.html",
            r=view,
            cw=casework_view(session=db.session, report=report, staff=current_staff(), lang=lang),
            services=[(s.code, s.name(lang)) for s in list_services(session=db.session)],
            error=error,
            saved=request.args.get("saved"),
            can_read_contacts=can_read_contacts(current_staff()),
            **_context(lang),
        ),
        status,
    )


def _back_to_report(report_id: int) -> BaseResponse:
    # A form's URL opened directly (the language switch of a page answering a POST): the
    # report's own page instead of a 405.
    return redirect(url_for("staff_triage.report", report_id=report_id, **_lang_args()))


def _visible(report_id: int) -> Report | None:
    return triage.visible_report(session=db.session, staff=current_staff(), report_id=report_id)


@bp.route("/reports/<dbint:report_id>")
@staff_page_required(*TRIAGE_ROLES)
def report(report_id: int) -> tuple[str, int]:
    """A report: its words, the classifier's guess, its history, its linked incidents, forms."""
    found = _visible(report_id)
    if found is None:
        return _not_found(staff_language())
    # Opened by someone who may act on it: the report is read ("received" turns "open").
    if mark_read(session=db.session, report=found, actor=current_staff()) is not None:
        db.session.commit()
    return _detail_page(found)


@bp.route("/reports/<dbint:report_id>/category", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def correct_category(report_id: int) -> BaseResponse | tuple[str, int]:
    """Save the category chosen in the form (a gold label), then back to the queue."""
    if request.method == "GET":
        return _back_to_report(report_id)
    lang = staff_language()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    try:
        triage.correct(
            session=db.session,
            report=found,
            service_code=request.form.get("service_code", ""),
            staff=current_staff(),
        )
    except triage.UnknownCategoryError:
        return _detail_page(found, error=translated(ERRORS, lang)["unknown_service"], status=400)
    # The report has left the queue (and perhaps the agent's services): on to the next one.
    return redirect(url_for("staff_triage.queue", saved="category", **_lang_args()))


def _status_error(exc: triage.StatusChangeError, status: str, current: str, lang: str) -> str:
    errors = translated(ERRORS, lang)
    if exc.reason == "note_required" and status == "waiting":
        return errors["question_required"]
    if exc.reason != "transition":
        return errors.get(exc.reason, str(exc))
    if status == current:
        return errors["already"]
    return errors.get(status, errors["transition"])


@bp.route("/reports/<dbint:report_id>/status", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def change_status(report_id: int) -> BaseResponse | tuple[str, int]:
    """Save the status and public note of the form, then back to the report."""
    if request.method == "GET":
        return _back_to_report(report_id)
    lang = staff_language()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    status = request.form.get("status", "")
    note = request.form.get("public_note")
    template_id = request.form.get("template_id", type=int)
    if template_id is not None:
        # One click on a template: its status, and its text filled in, in the report's language.
        usable = {
            t.id: t for t in response_templates.templates_for(session=db.session, report=found)
        }
        template = usable.get(template_id)
        if template is None:
            return _detail_page(
                found, error=translated(ERRORS, lang)["unknown_template"], status=422
            )
        status = template.status
        note = response_templates.render_for(
            session=db.session,
            template=template,
            report=found,
            lang="en" if found.language == "en" else "fr",
        )
    if status not in STATUSES:
        return _detail_page(found, error=translated(ERRORS, lang)["unknown_status"], status=422)
    current = found.status
    try:
        update = triage.change_status(
            session=db.session,
            report=found,
            status=status,
            public_note=note,
            staff=current_staff(),
        )
    except triage.StatusChangeError as exc:
        code = 409 if exc.reason in ("transition", "merged") else 422
        return _detail_page(found, error=_status_error(exc, status, current, lang), status=code)
    if update.public_note and update.id is not None:
        # The report page then shows the note as published and what was removed from it.
        public_notes.wait_until_scrubbed(
            session=db.session,
            connection=redis_conn.client,
            update_id=update.id,
            wait_seconds=current_app.config["CLASSIFY_WAIT_SECONDS"],
        )
    return redirect(
        url_for("staff_triage.report", report_id=report_id, saved="status", **_lang_args())
    )


@bp.route("/reports/<dbint:report_id>/contact", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def show_contact(report_id: int) -> BaseResponse | tuple[str, int]:
    """The report page with the resident's contact details (a POST: each read is logged)."""
    if request.method == "GET":
        return _back_to_report(report_id)
    found = _visible(report_id)
    if found is None:
        return _not_found(staff_language())
    staff = current_staff()
    if not can_read_contacts(staff):
        return _detail_page(found, status=403)
    contact = triage.read_contact_logged(
        session=db.session, cipher=contact_cipher(), report=found, staff=staff
    )
    return _detail_page(found, contact=contact)
