"""Content-Security-Policy headers: one policy per kind of page, a nonce for inline scripts.

Why a helper and not flask-talisman: docs/decisions/0008-content-security-policy.md.

Every script of the public site is a file of this site (its pages are cached between
requests, where a per-response nonce cannot live); staff pages may run inline scripts that
carry the request's nonce (:func:`csp_nonce`, created only when a page asks for it, so a page
without inline scripts gets a policy without a nonce). Styles keep ``'unsafe-inline'``:
Leaflet and folium position the map with ``style`` attributes and ``<style>`` blocks, and an
injected style cannot run code.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import Response, request

__all__ = ["csp_nonce", "policy", "set_policy"]

# Kept on the request itself (as backend.auth does): an app context can outlive one request.
_NONCE_KEY = "lanterne.csp_nonce"


def csp_nonce() -> str:
    """The nonce of this response's inline scripts (created on first use, 128 bits)."""
    nonce: str | None = request.environ.get(_NONCE_KEY)
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
        request.environ[_NONCE_KEY] = nonce
    return nonce


def policy(*, nonce: str | None = None, img_src: Iterable[str] = ("'self'", "data:")) -> str:
    """The policy: everything from this site only, nothing framed, no plugins, no ``<base>``.

    Parameters
    ----------
    nonce
        Allows the inline scripts that carry it (none when None).
    img_src
        Where images may come from (a tile server's ``https:`` for the public maps).

    Returns
    -------
    str
        The header's value.
    """
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        "style-src": "'self' 'unsafe-inline'",
        "img-src": " ".join(img_src),
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def set_policy(response: Response, *, img_src: Iterable[str] = ("'self'", "data:")) -> Response:
    """Set the policy on ``response``, with the nonce if the page used one."""
    response.headers["Content-Security-Policy"] = policy(
        nonce=request.environ.get(_NONCE_KEY), img_src=img_src
    )
    return response
