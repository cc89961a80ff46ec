"""The city's street gazetteer: names and positions, imported from a city's own file."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Street(SQLModel, table=True):
    """One named street with a representative point (WGS84), for typed addresses and the map.

    ``folded`` is the name lower-cased, without accents and with spaces collapsed, so that
    "rue de la republique" finds "Rue de la République"; ``area_code`` is the imported area the
    point falls in, when areas are loaded.
    """

    __tablename__ = "street"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    folded: str = Field(max_length=300, index=True)
    district: str | None = Field(default=None, max_length=200)
    area_code: str | None = Field(default=None, max_length=64, index=True)
    lat: float
    lon: float
