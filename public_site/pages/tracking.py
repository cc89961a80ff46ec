"""A resident's own report (``/suivi/<tracking-id>``) and its questionnaire."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, redirect, render_template, request

from backend.extensions import db, limiter
from backend.services import reports as reports_service
from public_site import indicators as ind
from public_site.site import _, area_name, bp, lang, lurl, not_found

TRACKING_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _tracking_limit() -> str:
    return str(current_app.config["RATELIMIT_PUBLIC_TRACKING"])


@bp.route("/suivi/<path:tracking_id>", methods=["GET", "POST"])
@limiter.limit(_tracking_limit, key_func=lambda: request.remote_addr or "")
def tracking(tracking_id: str) -> Any:
    """A resident's own report: status, category, area, public history; no personal data."""
    session = db.session
    report = None
    if TRACKING_RE.match(tracking_id):
        report = reports_service.get_by_tracking_id(session=session, tracking_id=tracking_id)
    if report is None:
        # The same answer for a malformed id, an unknown id and a wrong guess.
        not_found(_("No report has this tracking number. Check the link you received."))
    assert report is not None
    from backend.services import feedback as feedback_service

    form_error = None
    if request.method == "POST":
        try:
            answer = feedback_service.parse_form(request.form)
            feedback_service.submit_feedback(session=session, report=report, **answer)
            return redirect(lurl("public.tracking", tracking_id=tracking_id, merci=1), code=303)
        except feedback_service.FeedbackError as exc:
            form_error = feedback_message(exc.code)
    view = reports_service.public_view(session=session, report=report, lang=lang())
    # A duplicate merged into another report: the resident can follow that one instead.
    merged_into = (
        session.get(type(report), report.duplicate_of_id) if report.duplicate_of_id else None
    )
    cat = ind.catalogue(session)
    node = cat.hierarchy.nodes.get(report.area_code or "")
    can_answer = feedback_service.can_answer(session=session, report=report)
    return render_template(
        "public/tracking.html",
        view=view,
        area_name=area_name(node) if node else None,
        area_code=node.code if node and node.level != "h3" else None,
        status_label=status_label,
        merged_into=merged_into.tracking_id if merged_into is not None else None,
        can_answer=can_answer,
        thanks=request.args.get("merci") == "1",
        form_error=form_error,
    ), (400 if form_error else 200)


def feedback_message(code: str) -> str:
    """The resident-facing reason a questionnaire answer was refused."""
    return {
        "not_fixed": _("The questionnaire opens once the city marks the report as fixed."),
        "already": _("This questionnaire was already answered. Thank you!"),
    }.get(
        code,
        _(
            "Please say whether it is really fixed (yes or no), "
            "and give a mark from 1 to 5 if you wish."
        ),
    )


def status_label(status: str) -> str:
    """The resident-facing name of a status."""
    return {
        "received": _("Received"),
        "open": _("Open"),
        "in_progress": _("In progress"),
        "waiting": _("Waiting for more information from you"),
        "fixed": _("Fixed"),
        "closed": _("Closed"),
        "rejected": _("Not followed up"),
        "duplicate": _("Duplicate of another report"),
    }.get(status, status)
