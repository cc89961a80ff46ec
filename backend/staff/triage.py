"""The ``/staff/triage`` and ``/staff/reports/<id>`` pages: the triage queue and a report.

A blueprint of its own (``staff_triage``) beside the ``/staff`` pages, sharing their layout
(``render_staff``), their login, their CSRF protection (``staff_page_required``) and their error
pages. Agents and supervisors only, within their scope; everything goes through
``backend.services.triage``, as the JSON API does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, request, url_for
from sqlmodel import col, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.api.reports import contact_cipher
from backend.auth import current_staff
from backend.db import utcnow
from backend.extensions import db, redis_conn
from backend.models import Area, Report, SavedFilter
from backend.services import assignment, audit, bulk, public_notes, response_templates, triage
from backend.services.access import can_read_contacts, service_scope
from backend.services.catalogue import list_services
from backend.services.contacts import ContactDetails
from backend.services.reading import mark_read
from backend.services.versions import changes_since, version_of
from backend.services.workflow import STATUSES
from backend.staff import report_view
from backend.staff.casework_view import casework_view
from backend.staff.pages import (
    error_page,
    harden_page,
    render_staff,
    staff_language,
    staff_page_required,
    translated,
)
from backend.staff.triage_text import (
    CHANGE_NAMES,
    ERRORS,
    KIND_NAMES,
    SEVERITY_NAMES,
    STATUS_NAMES,
    TAB_NAMES,
    TEXT,
)

bp = Blueprint("staff_triage", __name__, url_prefix="/staff", template_folder="templates")

PAGE_SIZE = 50
DEFAULT_TAB = "work"
TRIAGE_ROLES = ("agent", "supervisor")


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
        "change_names": translated(CHANGE_NAMES, lang),
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


QUERY_KEYS = (
    "tab",
    "q",
    "needs_triage",
    "service_code",
    "area_code",
    "team_code",
    "status",
    "lang",
)


def _query_of(args: Mapping[str, str]) -> dict[str, Any]:
    """The queue's filters of a query string (what a saved filter keeps)."""
    return {k: v for k, v in args.items() if k in QUERY_KEYS and v}


def _triage_flag(value: str | None) -> bool | None:
    # "" (the default): either; "1": category to check; "0": already checked.
    return {"1": True, "0": False}.get(value or "")


def _queue_filters(args: Mapping[str, str], services: list[Any]) -> triage.TriageFilters:
    service_code = args.get("service_code") or None
    status = args.get("status") or None
    tab = args.get("tab") or DEFAULT_TAB
    return triage.TriageFilters(
        needs_triage=_triage_flag(args.get("needs_triage")),
        service_code=service_code if service_code in {s.code for s in services} else None,
        area_code=(args.get("area_code") or "").strip()[:64] or None,
        status=status if status in STATUSES else None,
        tab=tab if tab in triage.TABS else DEFAULT_TAB,
        search=(args.get("q") or "").strip()[: triage.SEARCH_MAX] or None,
        team_code=(args.get("team_code") or "").strip()[:64] or None,
    )


def _queue_page(
    args: Mapping[str, str],
    *,
    error: str | None = None,
    refusals: list[tuple[int, str]] | None = None,
    selected: set[int] | None = None,
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> tuple[str, int]:
    lang = staff_language()
    staff = current_staff()
    scope = service_scope(staff, db.session)
    services = [s for s in list_services(session=db.session) if scope is None or s.code in scope]
    filters = _queue_filters(args, services)
    try:
        page = max(int(args.get("page") or 1), 1)
    except ValueError:
        page = 1
    counts = triage.tab_counts(session=db.session, staff=staff, filters=filters)
    items, total = report_view.triage_queue(
        session=db.session,
        staff=staff,
        filters=filters,
        page=page,
        page_size=PAGE_SIZE,
        lang=lang,
        # The tab's count is the queue's length unless a status is chosen (counts are of
        # the statuses not closed).
        total=counts[filters.tab or DEFAULT_TAB] if filters.status is None else None,
    )
    query = _query_of(args)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    tabs = [
        (
            tab,
            translated(TAB_NAMES, lang)[tab],
            counts[tab],
            url_for("staff_triage.queue", **{**query, "tab": tab}),
        )
        for tab in triage.TABS
    ]
    saved_filters = db.session.exec(
        select(SavedFilter).where(SavedFilter.staff_id == staff.id).order_by(col(SavedFilter.name))
    ).all()
    return (
        render_staff(
            "staff/triage.html",
            items=items,
            total=total,
            filters=filters,
            tabs=tabs,
            services=[(s.code, s.name(lang)) for s in services],
            statuses=list(STATUSES),
            areas=_area_choices(),
            teams=[(t.code, t.name) for t in assignment.list_teams(session=db.session)],
            people=[
                (p.id, p.email, p.team_code)
                for p in assignment.assignable_people(session=db.session)
            ],
            page=page,
            pages=pages,
            previous_url=url_for("staff_triage.queue", **query, page=page - 1)
            if page > 1
            else None,
            next_url=url_for("staff_triage.queue", **query, page=page + 1)
            if page < pages
            else None,
            query_string=urlencode(query),
            saved_filters=[
                (f.id, f.name, f"{url_for('staff_triage.queue')}?{f.query}") for f in saved_filters
            ],
            saved=args.get("saved"),
            saved_count=args.get("count"),
            error=error,
            refusals=refusals or [],
            selected=selected or set(),
            form=form or {},
            **_context(lang),
        ),
        status_code,
    )


def _area_choices() -> list[tuple[str, str]]:
    """(code, name) of the areas staff filter by, names sorted; none past 500 (a text box)."""
    areas = db.session.exec(select(Area.code, Area.name).order_by(col(Area.name)).limit(501)).all()
    return [] if len(areas) > 500 else [(code, name) for code, name in areas]


@bp.route("/triage")
@staff_page_required(*TRIAGE_ROLES)
def queue() -> tuple[str, int]:
    """The queue: tabs with counts (my work by default), search, filters, bulk actions."""
    return _queue_page(request.args)


def _back_to_queue(query: str, **extra: Any) -> BaseResponse:
    args = _query_of(dict(parse_qsl(query)))
    return redirect(url_for("staff_triage.queue", **args, **extra))


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


PUNCTUALITY_DAYS = 90


@bp.route("/punctuality")
@staff_page_required(*TRIAGE_ROLES)
def punctuality() -> str:
    """Per team: reports closed on time, late, more than 3x late; open ones overdue."""
    lang = staff_language()
    now = utcnow()
    teams = assignment.punctuality(
        session=db.session,
        staff=current_staff(),
        since=now - timedelta(days=PUNCTUALITY_DAYS),
        now=now,
    )
    return render_staff(
        "staff/punctuality.html",
        teams=teams,
        days=PUNCTUALITY_DAYS,
        overdue_url=url_for("staff_triage.queue", tab="overdue", **_lang_args()),
        **_context(lang),
    )


@bp.route("/triage/bulk", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def bulk_action() -> BaseResponse | tuple[str, int]:
    """One action on the reports ticked in the queue, all or none; back to the same queue."""
    if request.method == "GET":
        return redirect(url_for("staff_triage.queue", **_lang_args()))
    lang = staff_language()
    errors = translated(ERRORS, lang)
    query = request.form.get("query", "")
    args = dict(parse_qsl(query))
    ids = [i for i in (_int_or_none(v) for v in request.form.getlist("report_ids")) if i]
    action = request.form.get("action", "")
    keep = {k: v for k, v in request.form.items() if k not in ("csrf_token", "report_ids")}
    if not ids:
        return _queue_page(args, error=errors["bulk_empty"], form=keep, status_code=422)
    try:
        changed = bulk.bulk_apply(
            session=db.session,
            staff=current_staff(),
            report_ids=ids,
            action=action,
            team_code=request.form.get("team_code") or None,
            assignee_id=_int_or_none(request.form.get("assignee_id")),
            reason=request.form.get("reason"),
            status=request.form.get("status") or None,
            public_note=request.form.get("public_note"),
        )
    except bulk.BulkRefusedError as exc:
        refusals = [(r.report_id, errors.get(r.reason, r.message)) for r in exc.refusals]
        return _queue_page(
            args,
            error=errors["bulk_refused"].format(count=len(refusals)),
            refusals=refusals,
            selected=set(ids),
            form=keep,
            status_code=422,
        )
    except ValueError:
        return _queue_page(
            args, error=errors["bulk_action"], selected=set(ids), form=keep, status_code=422
        )
    return _back_to_queue(query, saved="bulk", count=len(changed))


@bp.route("/triage/filters", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def save_filter() -> BaseResponse | tuple[str, int]:
    """Save the queue's current filters under a name (the same name replaces them)."""
    if request.method == "GET":
        return redirect(url_for("staff_triage.queue", **_lang_args()))
    staff = current_staff()
    query = request.form.get("query", "")
    name = (request.form.get("name") or "").strip()[:100]
    if not name:
        lang = staff_language()
        args = dict(parse_qsl(query))
        return _queue_page(args, error=translated(ERRORS, lang)["filter_name"], status_code=422)
    kept = urlencode(_query_of(dict(parse_qsl(query))))
    existing = db.session.exec(
        select(SavedFilter).where(SavedFilter.staff_id == staff.id, SavedFilter.name == name)
    ).first()
    row = existing or SavedFilter(staff_id=staff.id or 0, name=name, query=kept)
    row.query = kept
    db.session.add(row)
    db.session.flush()
    audit.record(
        session=db.session,
        actor=staff,
        action="saved_filter.saved",
        target=f"saved_filter:{row.id}",
        details={"name": name, "query": kept},
    )
    db.session.commit()
    return _back_to_queue(query, saved="filter")


@bp.route("/triage/filters/<dbint:filter_id>/delete", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def delete_filter(filter_id: int) -> BaseResponse:
    """Forget one of your saved filters (another's is answered like a missing one)."""
    if request.method == "POST":
        staff = current_staff()
        row = db.session.get(SavedFilter, filter_id)
        if row is not None and row.staff_id == staff.id:
            audit.record(
                session=db.session,
                actor=staff,
                action="saved_filter.deleted",
                target=f"saved_filter:{row.id}",
                details={"name": row.name},
            )
            db.session.delete(row)
            db.session.commit()
    return redirect(url_for("staff_triage.queue", **_lang_args()))


def _detail_page(
    report: Report,
    *,
    contact: ContactDetails | None = None,
    error: str | None = None,
    status: int = 200,
    conflict: list[dict[str, Any]] | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    lang = staff_language()
    view = report_view.staff_view(session=db.session, report=report, lang=lang, contact=contact)
    return (
        render_staff(
            "staff/report.html",
            r=view,
            cw=casework_view(session=db.session, report=report, staff=current_staff(), lang=lang),
            services=[(s.code, s.name(lang)) for s in list_services(session=db.session)],
            teams=[(t.code, t.name) for t in assignment.list_teams(session=db.session)],
            people=[
                (p.id, p.email, p.team_code)
                for p in assignment.assignable_people(session=db.session)
            ],
            error=error,
            conflict=conflict,
            form=form or {},
            saved=request.args.get("saved"),
            can_read_contacts=can_read_contacts(current_staff()),
            **_context(lang),
        ),
        status,
    )


class _Missing(dict[str, Any]):
    """A format map answering "–" for a detail an older audit row lacks."""

    def __missing__(self, key: str) -> str:
        return "–"


def _changed_meanwhile(report: Report) -> tuple[str, int] | None:
    """The report page saying who changed what since the version the form was read at, with
    the agent's input kept in the form; None when the form's version is the current one."""
    sent = request.form.get("version")
    if not sent or sent == version_of(report):
        return None
    lang = staff_language()
    names = translated(CHANGE_NAMES, lang)
    statuses = translated(STATUS_NAMES, lang)
    changes = []
    for change in changes_since(session=db.session, report=report, version=sent):
        details = {k: v if v is not None else "–" for k, v in change["details"].items()}
        if change["action"] == "report.status_set":
            details = {k: statuses.get(str(details.get(k)), details.get(k)) for k in ("from", "to")}
        template = names.get(change["action"], change["action"])
        text = template.format_map(_Missing(details))
        changes.append({"actor": change["actor"], "at": change["at"], "text": text})
    kept = {k: v for k, v in request.form.items() if k not in ("csrf_token", "version")}
    return _detail_page(
        report,
        error=translated(ERRORS, lang)["changed_meanwhile"],
        conflict=changes,
        form=kept,
        status=409,
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
    conflict = _changed_meanwhile(found)
    if conflict is not None:
        return conflict
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
    conflict = _changed_meanwhile(found)
    if conflict is not None:
        return conflict
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


@bp.route("/reports/<dbint:report_id>/assignment", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def assign(report_id: int) -> BaseResponse | tuple[str, int]:
    """Give the report to a team and/or a person (a reason to reassign), then back to it."""
    if request.method == "GET":
        return _back_to_report(report_id)
    lang = staff_language()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    conflict = _changed_meanwhile(found)
    if conflict is not None:
        return conflict
    kept = {k: v for k, v in request.form.items() if k not in ("csrf_token", "version")}
    try:
        assignment.assign(
            session=db.session,
            report=found,
            staff=current_staff(),
            team_code=request.form.get("team_code") or None,
            assignee_id=_int_or_none(request.form.get("assignee_id")),
            reason=request.form.get("reason"),
        )
    except assignment.AssignmentError as exc:
        message = translated(ERRORS, lang).get(exc.reason, str(exc))
        return _detail_page(found, error=message, form=kept, status=422)
    return redirect(
        url_for("staff_triage.report", report_id=report_id, saved="assignment", **_lang_args())
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
