"""The baseline for bench/intake.py: a bare Flask endpoint doing one INSERT per request."""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, request

from backend.db import make_engine

engine = make_engine(os.environ.get("DATABASE_URL", "sqlite://"))
metadata = sa.MetaData()
bare = sa.Table(
    "bench_bare_report",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
)
app = Flask(__name__)


def create_table(url: str) -> None:
    """Create the baseline's table (once, before the server's workers start)."""
    table_engine = make_engine(url)
    metadata.create_all(table_engine)
    table_engine.dispose()


@app.post("/api/v1/reports")
def insert() -> tuple[dict[str, int], int]:
    """Insert the body's fields, nothing else: no validation, no history, no queue."""
    body = request.get_json()
    with engine.begin() as conn:
        new_id = conn.execute(
            bare.insert().values(
                description=body["description"], lat=body.get("lat"), lon=body.get("lon")
            )
        ).inserted_primary_key[0]
    return {"id": int(new_id)}, 201
