"""Neighbourhoods: imported areas (quartiers, arrondissements) with their geometry."""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class Area(SQLModel, table=True):
    """An area of the city, with its GeoJSON geometry and optional population."""

    __tablename__ = "area"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    level: str = Field(max_length=32, index=True)
    parent_code: str | None = Field(default=None, max_length=64, index=True)
    # GeoJSON geometry (WGS84) as text: portable across SQLite and PostgreSQL.
    geometry: str = Field(sa_column=Column(Text, nullable=False))
    centroid_lat: float
    centroid_lon: float
    population: int | None = Field(default=None)
