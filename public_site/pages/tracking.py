"""A resident's own report (``/suivi/<tracking-id>``), its questionnaire and their additions.

Without the resident's token (``?t=``, given at intake) the page shows what anyone holding
the tracking id may see: the status, category, area and public history. With it, it also
shows the resident their own report (their text as scrubbed of personal data, the photo,
their additions and answer) and lets them add information or a photo while it is open. The
photos are served here, with the token, and nowhere else on the public site.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app, redirect, render_template, request, send_from_directory
from werkzeug.wrappers import Response as BaseResponse

from backend.extensions import db, limiter
from backend.models import Report, ReportAddition
from backend.services import additions as additions_service
from backend.services import feedback as feedback_service
from backend.services import reports as reports_service
from backend.services import tracking as tracking_service
from backend.services.photos import PhotoLimits, PhotoRejectedError
from public_site import indicators as ind
from public_site.site import _, area_name, bp, lang, lurl, not_found

TRACKING_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
T = tracking_service.TOKEN_PARAM


def _tracking_limit() -> str:
    return str(current_app.config["RATELIMIT_PUBLIC_TRACKING"])


_limited = limiter.limit(_tracking_limit, key_func=lambda: request.remote_addr or "")


def _report_or_404(tracking_id: str) -> Report:
    report = None
    if TRACKING_RE.match(tracking_id):
        report = reports_service.get_by_tracking_id(session=db.session, tracking_id=tracking_id)
    if report is None:
        # The same answer for a malformed id, an unknown id and a wrong guess.
        not_found(_("No report has this tracking number. Check the link you received."))
    assert report is not None
    return report


def _token(report: Report) -> str | None:
    """The request's token when it is the report's (from the query or the form), else None."""
    token = request.values.get(T)
    return token if tracking_service.token_matches(report, token) else None


def _reopen_window() -> timedelta:
    return timedelta(days=current_app.config["FEEDBACK_REOPEN_DAYS"])


@bp.route("/suivi/<path:tracking_id>", methods=["GET", "POST"])
@_limited
def tracking(tracking_id: str) -> Any:
    """A resident's own report: public status and history; their own report with the token."""
    session = db.session
    report = _report_or_404(tracking_id)
    token = _token(report)
    form_error = None
    if request.method == "POST":
        if not _may_answer(report, token):
            # The questionnaire is the resident's: their token (in their link) is needed, as
            # tracking ids are shown to other residents among the reports nearby.
            not_found(_("No report has this tracking number. Check the link you received."))
        try:
            answer = feedback_service.parse_form(request.form)
            stored = feedback_service.submit_feedback(
                session=session, report=report, reopen_window=_reopen_window(), **answer
            )
            outcome = "reopened" if stored.reopened else ("late" if not stored.fixed else "1")
            return redirect(
                lurl("public.tracking", tracking_id=tracking_id, merci=outcome, **_t(token)),
                code=303,
            )
        except feedback_service.FeedbackError as exc:
            form_error = feedback_message(exc.code)
    return _page(report, token, form_error=form_error, status=400 if form_error else 200)


def _may_answer(report: Report, token: str | None) -> bool:
    """Whether this request may answer the questionnaire: with the resident's token, or for
    a report filed before tokens existed (it has none to give)."""
    return token is not None or report.token_hash is None


def _t(token: str | None) -> dict[str, str]:
    return {T: token} if token else {}


def _page(
    report: Report,
    token: str | None,
    *,
    form_error: str | None = None,
    add_error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db.session
    view = reports_service.public_view(session=session, report=report, lang=lang())
    # A duplicate merged into another report: the resident can follow that one instead.
    merged_into = (
        session.get(type(report), report.duplicate_of_id) if report.duplicate_of_id else None
    )
    cat = ind.catalogue(session)
    node = cat.hierarchy.nodes.get(report.area_code or "")
    private = None
    if token is not None:
        private = tracking_service.private_view(
            session=session, report=report, token=token, lang=lang()
        )
    window_days = current_app.config["FEEDBACK_REOPEN_DAYS"]
    return render_template(
        "public/tracking.html",
        view=view,
        private=private,
        token=token,
        token_param=T,
        area_name=area_name(node) if node else None,
        area_code=node.code if node and node.level != "h3" else None,
        status_label=status_label,
        merged_into=merged_into.tracking_id if merged_into is not None else None,
        can_answer=_may_answer(report, token)
        and feedback_service.can_answer(session=session, report=report),
        would_reopen=feedback_service.within_reopen_window(report, _reopen_window()),
        window_days=window_days,
        can_add=token is not None and additions_service.can_add(report),
        thanks=request.args.get("merci"),
        added=request.args.get("ajout") == "1",
        form_error=form_error,
        add_error=add_error,
        text_max=additions_service.TEXT_MAX,
    ), status


@bp.route("/suivi/<string:tracking_id>/ajouter", methods=["POST"])
@_limited
def add_information(tracking_id: str) -> Any:
    """Add text and/or a photo to one's open report (the form carries the token)."""
    report = _report_or_404(tracking_id)
    token = _token(report)
    if token is None:
        # Without the token, nobody may add: answered like an unknown report.
        not_found(_("No report has this tracking number. Check the link you received."))
    assert token is not None
    upload = request.files.get("photo")
    photo = (upload.read() or None) if upload is not None else None
    config = current_app.config
    try:
        additions_service.add_information(
            session=db.session,
            report=report,
            text=request.form.get("text"),
            photo=photo,
            media_path=Path(config["MEDIA_PATH"]),
            photo_limits=PhotoLimits(
                max_bytes=config["PHOTO_MAX_BYTES"],
                max_pixels=config["PHOTO_MAX_PIXELS"],
                max_side=config["PHOTO_MAX_SIDE"],
            ),
        )
    except additions_service.AdditionError as exc:
        code = 409 if exc.code == "closed" else 400
        return _page(report, token, add_error=addition_message(exc.code), status=code)
    except PhotoRejectedError as exc:
        message = _("Photo refused: %(reason)s. Send a JPEG, PNG or WebP photo.", reason=str(exc))
        return _page(report, token, add_error=message, status=400)
    return redirect(
        lurl("public.tracking", tracking_id=tracking_id, ajout=1, **_t(token)) + "#ajouts",
        code=303,
    )


def _photo(name: str | None) -> BaseResponse:
    if not name:
        not_found(_("This photo does not exist."))
    assert name is not None
    response = send_from_directory(
        current_app.config["MEDIA_PATH"], name, mimetype="image/jpeg", max_age=0
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/suivi/<string:tracking_id>/photo")
@_limited
def photo(tracking_id: str) -> BaseResponse:
    """The report's photo, for the holder of the resident's token only (404 otherwise)."""
    report = _report_or_404(tracking_id)
    if _token(report) is None:
        not_found(_("This photo does not exist."))
    return _photo(report.photo_name)


@bp.route("/suivi/<string:tracking_id>/ajouts/<dbint:addition_id>/photo")
@_limited
def addition_photo(tracking_id: str, addition_id: int) -> BaseResponse:
    """A photo the resident added, for the holder of the token only (404 otherwise)."""
    report = _report_or_404(tracking_id)
    addition = db.session.get(ReportAddition, addition_id)
    if _token(report) is None or addition is None or addition.report_id != report.id:
        not_found(_("This photo does not exist."))
    assert addition is not None
    return _photo(addition.photo_name)


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


def addition_message(code: str) -> str:
    """The resident-facing reason an addition was refused."""
    return {
        "closed": _("This report is closed: information can no longer be added to it."),
        "empty": _("Write something or choose a photo to add."),
        "too_long": _(
            "Your text is too long: at most %(max)s characters.", max=additions_service.TEXT_MAX
        ),
    }.get(code, _("This information could not be added."))


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
