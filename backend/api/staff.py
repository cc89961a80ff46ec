"""The staff API: who am I (a token check for tools and scripts)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Api, Blueprint

from backend.auth import current_staff, roles_required
from backend.extensions import db
from backend.schemas.staff import StaffMeSchema
from backend.services.access import can_read_contacts, service_scope

blp = Blueprint("staff_api", __name__, url_prefix="/api/v1/staff", description="Staff")

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A staff token from `lanterne staff token EMAIL` (shown once).",
}


def register(api: Api) -> None:
    """Register the blueprint and the bearer security scheme the staff endpoints declare."""
    if "bearerAuth" not in api.spec.components.security_schemes:
        api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    api.register_blueprint(blp)


@blp.route("/me")
class Me(MethodView):
    """The account of the token."""

    @roles_required()
    @blp.response(200, StaffMeSchema)
    def get(self) -> dict[str, Any]:
        """The e-mail, role and scope of the token's account."""
        staff = current_staff()
        scope = service_scope(staff, db.session)
        return {
            "email": staff.email,
            "role": staff.role,
            "department": staff.department,
            "service_codes": staff.service_codes,
            "visible_services": sorted(scope) if scope is not None else None,
            "can_read_contacts": can_read_contacts(staff),
        }
