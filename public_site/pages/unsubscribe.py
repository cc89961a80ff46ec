"""``/desabonner/<token>``: stop the e-mails about one report (the link in every e-mail).

A GET shows what will stop and a button; the POST stops it. The token is the secret (a
follower's random ``subscription.token``, or the reporter's signed token), so the POST needs
no CSRF token, and mail clients may POST ``List-Unsubscribe=One-Click`` to it (RFC 8058).
Unsubscribing stops future e-mails only: the report, the +1 and the history stay.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, make_response, render_template, request

from backend.extensions import db, limiter
from backend.services import notifications
from public_site.site import _, bp, not_found


def _limit() -> str:
    return str(current_app.config["RATELIMIT_PUBLIC_TRACKING"])


@bp.route("/desabonner/<path:token>", methods=["GET", "POST"])
@limiter.limit(_limit, key_func=lambda: request.remote_addr or "")
def unsubscribe(token: str) -> Any:
    """Confirm, then stop, the e-mails a token stands for."""
    session = db.session
    found = notifications.resolve_unsubscribe(
        session=session, token=token, secret_key=str(current_app.config["SECRET_KEY"])
    )
    if found is None:
        not_found(
            _("This unsubscribe link is not valid. Check the link in the e-mail you received.")
        )
    assert found is not None
    done = found.already
    if request.method == "POST":
        notifications.unsubscribe(session=session, found=found)
        done = True
    response = make_response(
        render_template(
            "public/unsubscribe.html",
            done=done,
            just_done=request.method == "POST",
            follower=found.kind == notifications.RecipientKind.FOLLOWER,
            tracking_id=found.tracking_id,
            token=token,
        )
    )
    # The token is a secret: neither cached nor sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
