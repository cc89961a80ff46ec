"""``GET /api/v1/indicators``: the published figures as JSON, for the city's dashboards."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.api.common import fail
from backend.extensions import db
from backend.services.catalogue import UnknownServiceError
from public_site import indicators as ind
from public_site import periods
from public_site.areas import CITY
from public_site.indicators import ALL, NOW

blp = Blueprint(
    "indicators",
    __name__,
    url_prefix="/api/v1/indicators",
    description="Published neighbourhood indicators (small counts suppressed)",
)

CODE = validate.Regexp(r"^[A-Za-z0-9_*.:-]{1,64}$", error="Not a valid code.")


class IndicatorQuerySchema(ma.Schema):
    """Which figures: an area (the city by default), a category (all), a period (this month)."""

    class Meta:
        unknown = ma.RAISE

    area = fields.String(load_default=CITY, validate=CODE)
    service_code = fields.String(load_default=ALL, validate=CODE)
    period = fields.String(
        load_default=None,
        validate=validate.Length(max=7),
        metadata={"description": "YYYY-MM, YYYY-Qn or YYYY; the current month by default."},
    )


class FiguresSchema(ma.Schema):
    """One published cell; a None count is suppressed (below the threshold, or protecting one)."""

    period = fields.String()
    area = fields.String()
    service_code = fields.String()
    reports = fields.Integer(allow_none=True)
    suppressed = fields.Boolean()
    fixed_pct = fields.Integer(allow_none=True)
    median_days = fields.Float(allow_none=True)
    satisfaction = fields.Float(allow_none=True)
    confirmed_pct = fields.Integer(allow_none=True)
    rate_per_1000 = fields.Float(allow_none=True)


class AreaSchema(ma.Schema):
    """The area the figures are about."""

    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent = fields.String(allow_none=True)
    population = fields.Integer(allow_none=True)


class SoFarSchema(ma.Schema):
    """The period under way: how far it goes, and the same span of the previous period."""

    days = fields.Integer(metadata={"description": "days of the period so far (today included)"})
    as_of = fields.String(metadata={"description": "when the figures were counted (UTC)"})
    previous_until = fields.String(
        metadata={"description": "end of the same span in the previous period (UTC)"}
    )
    previous_same_days = fields.Integer(
        allow_none=True,
        metadata={
            "description": "reports of the previous period over the same span, in the "
            "chosen area and category (null when hidden)"
        },
    )


class IndicatorsSchema(ma.Schema):
    """The figures of an area for a category and a period, with its context."""

    area = fields.Nested(AreaSchema)
    service_code = fields.String()
    period = fields.String()
    previous_period = fields.String()
    threshold = fields.Integer()
    figures = fields.Nested(FiguresSchema)
    previous = fields.Nested(FiguresSchema)
    city = fields.Nested(FiguresSchema)
    open_backlog = fields.Integer(allow_none=True)
    by_service = fields.List(fields.Nested(FiguresSchema))
    so_far = fields.Nested(
        SoFarSchema,
        allow_none=True,
        metadata={"description": "set when the period is not over (null for a whole period)"},
    )
    published_at = fields.DateTime(allow_none=True)


@blp.route("")
class Indicators(MethodView):
    """The published figures."""

    @blp.arguments(IndicatorQuerySchema, location="query", error_status_code=400, unknown=ma.RAISE)
    @blp.response(200, IndicatorsSchema)
    @blp.alt_response(400, description="Unknown area, category or period")
    @blp.alt_response(404, description="No figures published yet")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Figures of one area (or the city), category (or all) and period."""
        from flask import current_app

        from backend.models import AggregateState

        session = db.session
        cat = ind.catalogue(session)
        if not cat.published:
            fail(
                404,
                "No figures have been published yet: they are published once the first "
                "reports have been processed, every few minutes. Try again later.",
            )
        try:
            node = cat.area(args["area"])
        except ind.UnknownAreaError:
            fail(400, f"Unknown area '{args['area']}'.", errors={"query": {"area": ["unknown"]}})
        service = args["service_code"]
        if service != ALL:
            try:
                cat.service(service)
            except UnknownServiceError:
                fail(
                    400,
                    f"Unknown service_code '{service}'; see GET /api/v1/services.",
                    errors={"query": {"service_code": ["unknown"]}},
                )
        period = args["period"] or cat.last_month
        try:
            cat.check_period(period)
        except ind.UnknownPeriodError as exc:
            fail(400, str(exc), errors={"query": {"period": [str(exc)]}})
        prev = periods.previous(period)
        codes = [s.code for s in cat.services]
        table = ind.cells(
            session,
            period_list=[period, prev, NOW],
            areas=list({node.code, CITY}),
        )
        state = session.get(AggregateState, 1)
        return {
            "area": {
                "code": node.code,
                "name": node.name if node.code != CITY else "city",
                "level": node.level,
                "parent": node.parent,
                "population": node.population,
            },
            "service_code": service,
            "period": period,
            "previous_period": prev,
            "threshold": current_app.config["MIN_PUBLISHED_COUNT"],
            "figures": ind.as_dict(
                table.get((period, node.code, service)),
                (period, node.code, service),
                population=node.population,
            ),
            "previous": ind.as_dict(
                table.get((prev, node.code, service)),
                (prev, node.code, service),
                population=node.population,
            ),
            "city": ind.as_dict(
                table.get((period, CITY, service)),
                (period, CITY, service),
                population=cat.hierarchy.nodes[CITY].population,
            ),
            "open_backlog": ind.value(table, (NOW, node.code, service)),
            "by_service": [
                ind.as_dict(
                    table.get((period, node.code, c)),
                    (period, node.code, c),
                    population=node.population,
                )
                for c in codes
            ]
            if service == ALL
            else [],
            "published_at": state.published_at if state else None,
            "so_far": _so_far(cat, period, node.code, service),
        }


def _so_far(cat: ind.Catalogue, period: str, area: str, service: str) -> dict[str, Any] | None:
    partial = cat.partial(period)
    if partial is None:
        return None
    return {
        "days": partial["days"],
        "as_of": partial["as_of"],
        "previous_until": partial["previous_until"],
        "previous_same_days": cat.same_days_count(period, area, service),
    }
