"""Events for analysts, supervisors and admins: list, create, read, update, delete.

Agents get 404 on every route (what a role may not see is answered like what does not exist);
only admins delete. Updates need the ETag of the version read (``If-Match``), so two analysts
editing one event cannot overwrite each other unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from backend.api.common import fail
from backend.auth import current_staff, roles_required, visible_or_404
from backend.extensions import db
from backend.models import Event
from backend.schemas.events import (
    EventPatchSchema,
    EventQueryArgsSchema,
    EventSchema,
    EventSummarySchema,
)
from backend.services import events as events_service

P = ParamSpec("P")
R = TypeVar("R")

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1/events",
    description="Events in the city (matches, concerts, markets, demonstrations...) and the "
    "resources deployed for them (analysts, supervisors, admins).",
)

NOT_FOUND = "No event has this id."


def not_for_agents(func: Callable[P, R]) -> Callable[P, R]:
    """Answer 404 to agents, as for an id that does not exist (below ``roles_required``)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_staff().role == "agent":
            fail(404, "Not found.")
        return func(*args, **kwargs)

    return wrapper


def as_payload(event: Event) -> dict[str, Any]:
    """An event with its resources, as the schema dumps it (and the ETag is computed on)."""
    payload = {key: getattr(event, key) for key in EventSchema().fields if hasattr(event, key)}
    payload["resources"] = [
        {"hour": r.hour, "agents": r.agents, "barriers": r.barriers}
        for r in events_service.resources_of(session=db.session, event_id=event.id or 0)
    ]
    return payload


def _event_or_404(event_id: int) -> Event:
    return visible_or_404(
        events_service.get_event(session=db.session, event_id=event_id), message=NOT_FOUND
    )


def _invalid(exc: events_service.EventError) -> NoReturn:
    fail(422, exc.message, errors={"json": {exc.field: [exc.message]}})


@blp.route("")
class Events(MethodView):
    """The events, by start time."""

    @roles_required()
    @not_for_agents
    @blp.arguments(EventQueryArgsSchema, location="query")
    @blp.response(200, EventSummarySchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List events, with filters (kind, from, to, area); paginated (X-Pagination)."""
        upcoming = args.pop("upcoming_first", False)
        items, total = events_service.list_events(
            session=db.session,
            filters=events_service.EventFilters(**args),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            upcoming_first=upcoming,
        )
        pagination_parameters.item_count = total
        return items

    @roles_required()
    @not_for_agents
    @blp.arguments(EventSchema)
    @blp.response(201, EventSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create an event (source "staff"); audited."""
        try:
            event = events_service.create_event(
                session=db.session, data=data, staff=current_staff()
            )
        except events_service.EventError as exc:
            _invalid(exc)
        return as_payload(event)


@blp.route("/<dbint:event_id>")
class EventItem(MethodView):
    """One event."""

    @roles_required()
    @not_for_agents
    @blp.etag
    @blp.response(200, EventSchema)
    @blp.alt_response(404, description="No such event")
    def get(self, event_id: int) -> dict[str, Any]:
        """An event with its place and the resources deployed; its ETag is for If-Match."""
        return as_payload(_event_or_404(event_id))

    @roles_required()
    @not_for_agents
    @blp.etag
    @blp.arguments(EventPatchSchema)
    @blp.response(200, EventSchema)
    @blp.alt_response(404, description="No such event")
    def patch(self, data: dict[str, Any], event_id: int) -> dict[str, Any]:
        """Change some fields (If-Match: the ETag read); a place given replaces the old one."""
        event = _event_or_404(event_id)
        blp.check_etag(as_payload(event), EventSchema)
        try:
            event = events_service.update_event(
                session=db.session, event=event, data=data, staff=current_staff()
            )
        except events_service.EventError as exc:
            _invalid(exc)
        return as_payload(event)

    @roles_required()
    @not_for_agents
    @blp.etag
    @blp.response(204)
    @blp.alt_response(404, description="No such event")
    def delete(self, event_id: int) -> None:
        """Delete an event and its resources (admins only; If-Match: the ETag read); audited."""
        if current_staff().role != "admin":
            fail(403, "Only an admin may delete an event.")
        event = _event_or_404(event_id)
        blp.check_etag(as_payload(event), EventSchema)
        events_service.delete_event(session=db.session, event=event, staff=current_staff())
