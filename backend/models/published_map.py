"""The public site's base maps: folium's outlines of the areas, rendered by the worker.

Rendering with folium costs hundreds of milliseconds and ~75 MB of imports (folium, branca,
pandas), so the web process never does it: the publication renders each map once per set of
inputs (areas, tile settings) and stores it here; pages read it and add their figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class PublishedMap(SQLModel, table=True):
    """One base map: its page element, its script, and the fingerprint of its inputs.

    ``key`` names the map (``city:fine``, ``city:coarse``, ``area:<code>``); ``fingerprint``
    is the hash of what it was drawn from, so a page can tell a map of other areas from its own.
    """

    __tablename__ = "published_map"

    key: str = Field(primary_key=True, max_length=80)
    fingerprint: str = Field(max_length=64)
    element: str = Field(sa_column=Column(Text, nullable=False))
    script: str = Field(sa_column=Column(Text, nullable=False))
    map_name: str = Field(max_length=100)
    layer_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rendered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
