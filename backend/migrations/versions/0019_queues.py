"""team, routing_rule, saved_filter; report.team_code/assignee_id/due_at; service.working_days

Revision ID: 0019
Revises: 0017

Teams work reports: a routing rule (service, area prefix) gives a report its team once its
category is known, staff assign it to a person, and the service's target days give its due
date. Indexes for the queues: a team's and a person's open work, and the overdue queue.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# (table, column, referred "table (column)", constraint name)
REFERENCES = (
    ("staff_user", "team_code", "team (code)", "fk_staff_user_team"),
    ("report", "team_code", "team (code)", "fk_report_team"),
    ("report", "assignee_id", "staff_user (id)", "fk_report_assignee"),
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "team",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("area_prefix", sa.String(length=64), nullable=True),
        sa.Column("team_code", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["service_code"], ["service.code"]),
        sa.ForeignKeyConstraint(["team_code"], ["team.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_routing_rule_service", "routing_rule", ["service_code"])
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_filter_staff_name", "saved_filter", ["staff_id", "name"], unique=True)
    # Plain ADD COLUMNs, no batch copy: on SQLite a batch would rebuild ``report``, and the
    # rebuild's DROP TABLE would cascade to its history rows. SQLite adds a column with its
    # REFERENCES clause in place; Alembic would want a separate constraint, which it cannot.
    for table, column, target, name in REFERENCES:
        if op.get_bind().dialect.name == "sqlite":
            kind = "VARCHAR(64)" if column.endswith("code") else "INTEGER"
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind} REFERENCES {target}")
        else:
            kind_type: sa.types.TypeEngine[object] = (
                sa.String(length=64) if column.endswith("code") else sa.Integer()
            )
            op.add_column(
                table,
                sa.Column(
                    column,
                    kind_type,
                    sa.ForeignKey(target.replace(" (", ".").rstrip(")"), name=name),
                    nullable=True,
                ),
            )
    op.add_column(
        "service",
        sa.Column("working_days", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("report", sa.Column("due_at", backend.db.UTCDateTime(), nullable=True))
    op.create_index("ix_report_team_status", "report", ["team_code", "status", "service_code"])
    op.create_index(
        "ix_report_assignee_status", "report", ["assignee_id", "status", "service_code"]
    )
    op.create_index("ix_report_status_due", "report", ["status", "due_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_report_status_due", table_name="report")
    op.drop_index("ix_report_assignee_status", table_name="report")
    op.drop_index("ix_report_team_status", table_name="report")
    # SQLite (3.35+) drops a plain column in place; a column with a constraint needs the
    # batch copy, which is fine going down (the columns and their data are going anyway),
    # but foreign keys must be off while ``report`` is rebuilt or its history would go too.
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("report", schema=None) as batch_op:
        if bind.dialect.name != "sqlite":
            batch_op.drop_constraint("fk_report_assignee", type_="foreignkey")
            batch_op.drop_constraint("fk_report_team", type_="foreignkey")
        batch_op.drop_column("due_at")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("team_code")
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("working_days")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        if bind.dialect.name != "sqlite":
            batch_op.drop_constraint("fk_staff_user_team", type_="foreignkey")
        batch_op.drop_column("team_code")
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=ON")
    op.drop_index("ix_saved_filter_staff_name", table_name="saved_filter")
    op.drop_table("saved_filter")
    op.drop_index("ix_routing_rule_service", table_name="routing_rule")
    op.drop_table("routing_rule")
    op.drop_table("team")
