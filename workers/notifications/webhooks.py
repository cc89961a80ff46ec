"""Signed webhooks to subscriber systems (a city's SMS or push provider).

One POST per history step per endpoint. The body is JSON without personal data; the
signature is ``X-Lanterne-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the
endpoint's secret; ``X-Lanterne-Timestamp`` (Unix seconds) is also inside the signed body as
``sent_at``, so a receiver can refuse old replays; ``X-Lanterne-Delivery`` is the same on
every attempt of one (step, endpoint), so a receiver can drop a copy sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Lanterne-Signature"
TIMESTAMP_HEADER = "X-Lanterne-Timestamp"
DELIVERY_HEADER = "X-Lanterne-Delivery"
EVENT = "report.updated"


def delivery_id(update_id: int, endpoint_id: int) -> str:
    """The id of one (step, endpoint) delivery, stable across attempts (a UUID5)."""
    name = f"lanterne:update:{update_id}:endpoint:{endpoint_id}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the HMAC of the raw body, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header)


def encode(payload: dict[str, Any]) -> bytes:
    """The raw body: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookRefusedError(Exception):
    """The receiver answered 4xx (but 408/429) or a redirect: the delivery is given up."""


class WebhookUnreachableError(Exception):
    """No answer, a 5xx, 408 or 429: the delivery is tried again with backoff."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without its body: refuse instead.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Response:
    """The receiver's status code."""

    status: int


def post(
    *, url: str, secret: str, body: bytes, delivery: str, timestamp: int, timeout: float
) -> Response:
    """POST one signed body; raise WebhookRefusedError or WebhookUnreachableError unless a 2xx."""
    request = urllib.request.Request(  # noqa: S310 (http(s) only: checked at registration)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Lanterne-Webhook/1",
            SIGNATURE_HEADER: sign(secret, body),
            TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: delivery,
            "X-Lanterne-Event": EVENT,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return Response(status=answer.status)
    except urllib.error.HTTPError as exc:
        if exc.code in (408, 429) or exc.code >= 500:
            raise WebhookUnreachableError(f"HTTP {exc.code}") from exc
        raise WebhookRefusedError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookUnreachableError(f"{type(exc).__name__}: {exc}") from exc
