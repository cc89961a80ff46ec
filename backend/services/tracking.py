"""The resident's token: the key to their own report's private view on the tracking page.

The tracking id alone shows what it always showed: the public status and history, nothing
anyone wrote. The token, made at intake and given once in the intake's answer (the JSON API,
Open311, the phone form's redirect), also shows the resident their own report: their words
as scrubbed of personal data, the category, the area, the photo, their additions and their
questionnaire answer. Only the token's SHA-256 is stored (``report.token_hash``): a copy of
the database does not open any private view. A token has 192 bits that cannot be guessed, so
a plain hash is enough here; the keyed hash of DESIGN.md is for e-mail addresses, which can.

The token is derived from the tracking id with the app's secret key (an HMAC), not drawn at
random: a retry of the intake (same Idempotency-Key) must answer exactly as the first request
did, token included, and the token itself is never stored. Checking a token reads only the
stored hash, so a new secret key leaves the tokens already given valid. Decision record 0011.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from sqlmodel import Session, col, select

from backend.models import Feedback, Report, ReportAddition, Service

__all__ = [
    "TOKEN_PARAM",
    "hash_token",
    "resident_token",
    "private_view",
    "token_matches",
    "tracking_path",
    "tracking_url",
]

# The query parameter that carries the token on the tracking page's URL.
TOKEN_PARAM = "t"  # noqa: S105 (a parameter name, not a secret)


def resident_token(key: bytes, tracking_id: str) -> str:
    """The resident token of a tracking id: HMAC-SHA256 with ``key``, 192 bits, URL-safe."""
    digest = hmac.new(key, b"resident-token:" + tracking_id.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode("ascii")


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(report: Report, token: str | None) -> bool:
    """Whether ``token`` is this report's resident token (constant-time comparison)."""
    if not token or not report.token_hash or len(token) > 128:
        return False
    return hmac.compare_digest(hash_token(token), report.token_hash)


def tracking_path(tracking_id: str, token: str | None = None, lang: str | None = None) -> str:
    """The tracking page's path (and query): ``/suivi/<tracking id>?t=<token>&lang=en``."""
    query = {k: v for k, v in ((TOKEN_PARAM, token), ("lang", lang)) if v}
    return f"/suivi/{tracking_id}" + (f"?{urlencode(query)}" if query else "")


def tracking_url(
    tracking_id: str, token: str | None = None, lang: str | None = None, *, external: bool = True
) -> str:
    """The tracking page's URL, with the resident's token when given (the one function to use).

    ``external``: the full URL on the city's public site (``LANTERNE_PUBLIC_BASE_URL``), for
    intake answers and e-mails; False gives the path alone, for a redirect of this site.
    ``lang``: ``en`` for the English page (French, the default, needs none).
    """
    path = tracking_path(tracking_id, token, lang if lang and lang != "fr" else None)
    if not external:
        return path
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path


def report_for_token(*, session: Session, token: str) -> Report | None:
    """The report whose resident token this is, or None (Open311's ``GET tokens/{token}``)."""
    if not token or len(token) > 128:
        return None
    return session.exec(select(Report).where(Report.token_hash == hash_token(token))).first()


def additions_of(*, session: Session, report: Report) -> list[ReportAddition]:
    """What the resident added to the report, oldest first."""
    stmt = (
        select(ReportAddition)
        .where(ReportAddition.report_id == report.id)
        .order_by(col(ReportAddition.created_at), col(ReportAddition.id))
    )
    return list(session.exec(stmt))


def private_view(
    *, session: Session, report: Report, token: str, lang: str = "fr"
) -> dict[str, Any]:
    """What the holder of the token sees beyond the public view (the caller checked it).

    Only scrubbed texts: the description and additions as the worker published them (None
    until then). Photo URLs carry the token: without it they answer 404.
    """
    service = session.get(Service, report.service_code) if report.service_code else None
    base = f"/suivi/{report.tracking_id}"
    query = urlencode({TOKEN_PARAM: token})
    feedback = session.exec(select(Feedback).where(Feedback.report_id == report.id)).first()
    return {
        "description_public": report.description_public,
        "service_name": service.name(lang) if service else None,
        "photo_url": f"{base}/photo?{query}" if report.photo_name else None,
        "additions": [
            {
                "id": a.id,
                "text_public": a.text_public,
                "scrub_pending": bool(a.text) and a.text_public is None,
                "photo_url": f"{base}/ajouts/{a.id}/photo?{query}" if a.photo_name else None,
                "created_at": a.created_at,
            }
            for a in additions_of(session=session, report=report)
        ],
        "feedback": (
            {
                "fixed": feedback.fixed,
                "satisfaction": feedback.satisfaction,
                "reopened": feedback.reopened,
                "created_at": feedback.created_at,
            }
            if feedback is not None
            else None
        ),
    }
