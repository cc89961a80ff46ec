"""The maps' scripts and Leaflet's files, served by this site (no CDN, no inline script)."""

from __future__ import annotations

from flask import Response, send_from_directory

from backend.extensions import db
from public_site import maps
from public_site.site import _, bp, not_found


@bp.route("/cartes/<fingerprint>/<map_name>.js")
def map_script(fingerprint: str, map_name: str) -> Response:
    """A stored map's script, as a file (the pages run no inline script)."""
    script = maps.stored_script(db.session, fingerprint=fingerprint, map_name=map_name)
    if script is None:
        not_found(_("This map is no longer published. Reload the page."))
    response = Response(script, mimetype="text/javascript")
    # The URL names one drawing of one map: it never changes.
    response.cache_control.public = True
    response.cache_control.max_age = 365 * 86400
    response.cache_control.immutable = True
    return response


@bp.route("/static/vendor/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet's files, from the ``xstatic-leaflet`` package (no CDN)."""
    import xstatic.pkg.leaflet as leaflet_pkg

    # Cache headers: public_site.site (the URL carries the file's version).
    response = send_from_directory(leaflet_pkg.BASE_DIR, filename)
    return response
