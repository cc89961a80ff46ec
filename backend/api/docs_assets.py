"""The browsable API documentation's files (Swagger UI), served from a Python package.

flask-smorest renders ``/api/v1/docs`` and loads Swagger UI from ``OPENAPI_SWAGGER_UI_URL``;
the files come from the ``swagger-ui-bundle`` package, so the page needs no CDN.
"""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint(
    "api_docs_assets",
    __name__,
    static_folder=swagger_ui_path,
    static_url_path="/api/v1/docs/assets",
)
