"""The public site: neighbourhood indicators, maps, report tracking and open data.

Server-rendered, French by default and English on request (``?lang=en``), served only from
the published snapshot (written by ``workers.publication``): nothing here reads a report's text,
position or contact, except the tracking page, which shows a report's public history to the
holder of its unguessable tracking id.
"""

from __future__ import annotations

from flask import Flask


def register_public_site(app: Flask) -> None:
    """Mount the public site's blueprint on the app."""
    # Each page module adds its routes to the blueprint when imported.
    from public_site.pages import (  # noqa: F401
        area,
        assets,
        city,
        downloads,
        installable,
        report_form,
        tracking,
        unsubscribe,
    )
    from public_site.site import bp

    app.register_blueprint(bp)
