"""The open data page (``/donnees``) and its downloads."""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, render_template, send_from_directory

from backend.extensions import db
from public_site import indicators as ind
from public_site import periods
from public_site.open_data import open_data_path
from public_site.site import _, bp, lang, not_found

DOWNLOADS = (
    "indicateurs.csv",
    "indicateurs.geojson",
    "backlog.csv",
    "signalements.csv",
    "signalements.geojson",
)


def data_dir() -> Path:
    """Where the publication job writes the downloads."""
    return open_data_path(current_app.config)


@bp.route("/donnees")
def data() -> str:
    """Open data: the downloads, the data dictionary, the licence."""
    session = db.session
    cat = ind.catalogue(session)
    folder = data_dir()
    files = []
    for name in DOWNLOADS:
        path = folder / name
        if path.exists():
            files.append({"name": name, "size": path.stat().st_size})
    return render_template(
        "public/data.html",
        files=files,
        services=cat.services,
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
        grid=current_app.config["PUBLIC_GRID_DEGREES"],
        published=cat.published,
        first=periods.label(cat.first_month, lang()),
        last=periods.label(cat.last_month, lang()),
    )


@bp.route("/donnees/<path:name>")
def download(name: str) -> Response:
    """One download of the open data."""
    if name not in DOWNLOADS or not (data_dir() / name).exists():
        not_found(
            _(
                "There is no file called “%(name)s”. The list of files is on this page.",
                name=name[:60],
            )
        )
    mimetype = "text/csv" if name.endswith(".csv") else "application/geo+json"
    response = send_from_directory(data_dir(), name, mimetype=mimetype, as_attachment=True)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
