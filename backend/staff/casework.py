"""Case work pages: internal notes, merging duplicates, and the admins' response templates.

A blueprint of its own (``staff_casework``) beside the triage pages, sharing their layout,
login, CSRF protection and error pages. Notes and merges are for agents and supervisors within
their scope (a report outside it is answered like a missing one); templates are for admins.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from backend.auth import current_staff
from backend.extensions import db
from backend.models import ResponseTemplate
from backend.services import merge, notes, response_templates, triage
from backend.services.catalogue import list_services
from backend.staff.pages import (
    N_,
    Message,
    render_staff,
    staff_blueprint,
    staff_language,
    staff_page_required,
    translated,
)
from backend.staff.triage import (
    ERRORS,
    STATUS_NAMES,
    TRIAGE_ROLES,
    _detail_page,
    _lang_args,
    _not_found,
)

bp = staff_blueprint("staff_casework", __name__, url_prefix="/staff")

ADMIN_ROLES = ("admin",)

TEXT: dict[str, Message] = {
    "templates_heading": N_("Response templates"),
    "templates_intro": N_(
        "Public answers written once, per service and status, in French and English. Agents "
        "send them in one click as the public note of a status change, in the report's "
        "language. Placeholders: {placeholders}."
    ),
    "all_services": N_("every service"),
    "title_label": N_("Title"),
    "text_fr": N_("Text in French"),
    "text_en": N_("Text in English"),
    "active": N_("In use"),
    "save": N_("Save the template"),
    "new_template": N_("New template"),
    "edit": N_("Edit"),
    "none": N_("No template yet."),
    "saved": N_("Template saved."),
    "updated_by": N_("Last saved by"),
    "service": N_("Service"),
    "status": N_("Status"),
}
MERGE_ERRORS: dict[str, Message] = {
    "same": N_("A report cannot be merged into itself."),
    "merged": N_("Only reports that are neither duplicates nor rejected can be merged."),
    "category": N_("The two reports have different categories: correct one first."),
    "not_merged": N_("This report was not merged into another one."),
    "note_empty": N_("An internal note cannot be empty."),
    "note_long": N_("An internal note is limited to 4,000 characters."),
    "no_template": N_("No template has this number."),
}


def _to_report(report_id: int, saved: str | None = None, anchor: str = "") -> BaseResponse:
    args: dict[str, Any] = dict(_lang_args())
    if saved:
        args["saved"] = saved
    return redirect(url_for("staff_triage.report", report_id=report_id, **args) + anchor)


def _visible(report_id: int) -> Any:
    return triage.visible_report(session=db.session, staff=current_staff(), report_id=report_id)


@bp.route("/reports/<dbint:report_id>/notes", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def add_note(report_id: int) -> BaseResponse | tuple[str, int]:
    """Add an internal note (never public), then back to the report."""
    if request.method == "GET":
        return _to_report(report_id)
    lang = staff_language()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    try:
        notes.add_note(
            session=db.session,
            report=found,
            body=request.form.get("body", ""),
            staff=current_staff(),
        )
    except notes.NoteError:
        body = (request.form.get("body") or "").strip()
        key = "note_long" if body else "note_empty"
        return _detail_page(found, error=translated(MERGE_ERRORS, lang)[key], status=422)
    return _to_report(report_id, "note", "#notes")


@bp.route("/reports/<dbint:report_id>/merge", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def merge_into(report_id: int) -> BaseResponse | tuple[str, int]:
    """Merge the report named in the form (``duplicate_id``) into this one."""
    if request.method == "GET":
        return _to_report(report_id)
    lang = staff_language()
    keep = _visible(report_id)
    duplicate_id = request.form.get("duplicate_id", type=int)
    duplicate = _visible(duplicate_id) if duplicate_id else None
    if keep is None or duplicate is None:
        return _not_found(lang)
    try:
        merge.merge(session=db.session, keep=keep, duplicate=duplicate, staff=current_staff())
    except merge.MergeError as exc:
        return _detail_page(keep, error=translated(MERGE_ERRORS, lang)[exc.reason], status=409)
    return _to_report(report_id, "merged", "#duplicates")


@bp.route("/reports/<dbint:report_id>/unmerge", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def unmerge(report_id: int) -> BaseResponse | tuple[str, int]:
    """Undo the merge of this report into another one."""
    if request.method == "GET":
        return _to_report(report_id)
    lang = staff_language()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    try:
        merge.unmerge(session=db.session, duplicate=found, staff=current_staff())
    except merge.MergeError as exc:
        return _detail_page(found, error=translated(MERGE_ERRORS, lang)[exc.reason], status=409)
    return _to_report(report_id, "unmerged")


def _templates_page(
    *,
    editing: ResponseTemplate | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    lang = staff_language()
    services = list_services(session=db.session)
    names = {s.code: s.name(lang) for s in services}
    text = translated(TEXT, lang)
    text["templates_intro"] = text["templates_intro"].format(
        placeholders=", ".join(f"{{{p}}}" for p in response_templates.PLACEHOLDERS)
    )
    if form is None and editing is not None:
        form = {
            "service_code": editing.service_code or "",
            "status": editing.status,
            "title": editing.title,
            "body_fr": editing.body_fr,
            "body_en": editing.body_en,
            "active": editing.active,
        }
    return (
        render_staff(
            "staff/templates.html",
            c=text,
            templates=response_templates.list_templates(session=db.session),
            service_names=names,
            services=[(s.code, s.name(lang)) for s in services],
            statuses=response_templates.TEMPLATE_STATUSES,
            status_names=translated(STATUS_NAMES, lang),
            editing=editing,
            form=form or {"active": True},
            error=error,
            saved=request.args.get("saved"),
            lang_args=_lang_args(),
        ),
        status,
    )


def _save(editing: ResponseTemplate | None) -> BaseResponse | tuple[str, int]:
    form = request.form
    values: dict[str, Any] = {
        "service_code": form.get("service_code") or None,
        "status": form.get("status", ""),
        "title": form.get("title", ""),
        "body_fr": form.get("body_fr", ""),
        "body_en": form.get("body_en", ""),
        "active": form.get("active") == "1",
    }
    try:
        response_templates.save_template(
            session=db.session, staff=current_staff(), template=editing, **values
        )
    except response_templates.TemplateError as exc:
        # The admin's words stay in the form, with what to fix.
        return _templates_page(
            editing=editing,
            form={**values, "service_code": values["service_code"] or ""},
            error=str(exc),
            status=422,
        )
    return redirect(url_for("staff_casework.templates", saved=1, **_lang_args()))


@bp.route("/templates", methods=["GET", "POST"])
@staff_page_required(*ADMIN_ROLES)
def templates() -> BaseResponse | tuple[str, int]:
    """The templates, and a form for a new one."""
    if request.method == "POST":
        return _save(None)
    return _templates_page()


@bp.route("/templates/<dbint:template_id>", methods=["GET", "POST"])
@staff_page_required(*ADMIN_ROLES)
def edit_template(template_id: int) -> BaseResponse | tuple[str, int]:
    """One template in the form, to change it."""
    editing = response_templates.get_template(session=db.session, template_id=template_id)
    if editing is None:
        lang = staff_language()
        message = translated(MERGE_ERRORS, lang)["no_template"]
        return render_staff("staff/error.html", code=404, message=message), 404
    if request.method == "POST":
        return _save(editing)
    return _templates_page(editing=editing)


__all__ = ["ERRORS", "bp"]
