"""Installable on a phone: the web app manifest and the service worker, served from the root.

The service worker must be served from ``/`` to control ``/signaler`` and ``/report`` (a
worker's scope is its own folder unless the server allows more); it is a file of
``static/``, read as is.
"""

from __future__ import annotations

from flask import Response, json, send_from_directory, url_for

from public_site.site import _, bp, lang


@bp.route("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: name, start page, colours and icons (files of this site)."""
    start = url_for("public.report_form_en") if lang() == "en" else url_for("public.report_form")
    body = {
        "name": _("Lanterne: report a problem"),
        "short_name": "Lanterne",
        "description": _("Report a problem in the street and follow what the city does."),
        "lang": lang(),
        "start_url": start,
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#12355b",
        "icons": [
            {
                "src": url_for("public.static", filename=f"icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in (192, 512)
        ],
    }
    response = Response(json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/sw.js")
def service_worker() -> Response:
    """The service worker (``static/sw.js``), from the root so that its scope is the site."""
    static = bp.static_folder
    assert static is not None
    response = send_from_directory(static, "sw.js", mimetype="text/javascript", max_age=0)
    # A new version must reach phones at once: browsers check it on each navigation.
    response.headers["Cache-Control"] = "no-cache"
    return response
