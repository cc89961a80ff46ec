"""The service catalogue, for apps that show residents what they can report."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.extensions import db
from backend.models import Service
from backend.schemas.reports import ServiceSchema
from backend.services.catalogue import list_services

blp = Blueprint("services", __name__, url_prefix="/api/v1/services", description="Catalogue")


@blp.route("")
class Services(MethodView):
    """The catalogue."""

    @blp.response(200, ServiceSchema(many=True))
    def get(self) -> list[Service]:
        """List the categories a resident can report."""
        return list_services(session=db.session)
