"""Weak signals for analysts: list them, read one, give a verdict."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from backend.auth import current_staff, roles_required, visible_or_404
from backend.extensions import db
from backend.models import Signal
from backend.schemas.signals import SignalQueryArgsSchema, SignalSchema, SignalStatusSchema
from backend.services import signals as signals_service

blp = Blueprint(
    "signals",
    __name__,
    url_prefix="/api/v1/signals",
    description="Weak signals found by the daily detection (analysts).",
)

NOT_FOUND = "No signal has this id."


@blp.route("")
class Signals(MethodView):
    """The signals, newest detection day first."""

    @roles_required("analyst", "admin")
    @blp.arguments(SignalQueryArgsSchema, location="query")
    @blp.response(200, SignalSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List signals, with filters; paginated (``page``, ``page_size``, X-Pagination)."""
        items, total = signals_service.list_signals(
            session=db.session,
            filters=signals_service.SignalFilters(**args),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return items


@blp.route("/<dbint:signal_id>")
class SignalItem(MethodView):
    """One signal."""

    @roles_required("analyst", "admin")
    @blp.response(200, SignalSchema)
    @blp.alt_response(404, description="No such signal")
    def get(self, signal_id: int) -> Signal:
        """A signal, with its explanation and details."""
        return visible_or_404(
            signals_service.get_signal(session=db.session, signal_id=signal_id),
            message=NOT_FOUND,
        )

    @roles_required("analyst", "admin")
    @blp.arguments(SignalStatusSchema)
    @blp.response(200, SignalSchema)
    @blp.alt_response(404, description="No such signal")
    def patch(self, data: dict[str, Any], signal_id: int) -> Signal:
        """Set the status: new, acknowledged, dismissed or confirmed (with an optional note)."""
        signal = visible_or_404(
            signals_service.get_signal(session=db.session, signal_id=signal_id),
            message=NOT_FOUND,
        )
        return signals_service.set_signal_status(
            session=db.session,
            signal=signal,
            status=data["status"],
            staff=current_staff(),
            note=data.get("note"),
        )
