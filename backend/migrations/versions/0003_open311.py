"""open311: API keys, service attributes, Open311 request extras, external updates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("rate_limit", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("can_post_updates", sa.Boolean(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_key_hash"), ["key_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_key_name"), ["name"], unique=True)

    op.create_table(
        "open311_service_attribute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("variable", sa.Boolean(), nullable=False),
        sa.Column("datatype", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "datatype_description_fr", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column(
            "datatype_description_en", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("description_fr", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("description_en", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_code", "code", name="uq_open311_attribute_code"),
    )
    with op.batch_alter_table("open311_service_attribute", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open311_service_attribute_service_code"), ["service_code"], unique=False
        )

    op.create_table(
        "open311_request",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("media_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("address_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    with op.batch_alter_table("open311_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open311_request_api_key_id"), ["api_key_id"], unique=False
        )

    op.create_table(
        "open311_contact",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.create_table(
        "open311_external_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("report_update_id", sa.Integer(), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_update_id"], ["report_update.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key_id", "update_id", name="uq_open311_external_update"),
    )
    with op.batch_alter_table("open311_external_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open311_external_update_report_update_id"),
            ["report_update_id"],
            unique=False,
        )

    #####
    # ### commands auto generated by Alembic - please adjust! ###
    _seed_attributes()


def _seed_attributes() -> None:
    # The default catalogue's attributes are data a city edits, like the catalogue itself
    # (seeded by `lanterne db upgrade`): taken from the code of the day, as it is.
    from backend.open311.catalogue import default_attribute_rows

    table = sa.table(
        "open311_service_attribute",
        sa.column("service_code", sa.String),
        sa.column("code", sa.String),
        sa.column("variable", sa.Boolean),
        sa.column("datatype", sa.String),
        sa.column("required", sa.Boolean),
        sa.column("datatype_description_fr", sa.String),
        sa.column("datatype_description_en", sa.String),
        sa.column("sort_order", sa.Integer),
        sa.column("description_fr", sa.String),
        sa.column("description_en", sa.String),
        sa.column("values", sa.JSON),
    )
    rows = [row.model_dump(exclude={"id"}) for row in default_attribute_rows()]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("open311_external_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_external_update_report_update_id"))
    op.drop_table("open311_external_update")
    op.drop_table("open311_contact")
    with op.batch_alter_table("open311_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_request_api_key_id"))
    op.drop_table("open311_request")
    with op.batch_alter_table("open311_service_attribute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_service_attribute_service_code"))
    op.drop_table("open311_service_attribute")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_name"))
        batch_op.drop_index(batch_op.f("ix_api_key_key_hash"))
    op.drop_table("api_key")
