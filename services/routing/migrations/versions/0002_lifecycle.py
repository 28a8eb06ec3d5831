"""routing: case lifecycle columns, history, deadlines, corrective actions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "routing"

NEW_CASE_COLUMNS = [
    sa.Column("rules_version", sa.Text, nullable=True),
    sa.Column("handler", sa.Text, nullable=True),
    sa.Column("difficult", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("handed_over_to", sa.Text, nullable=True),
    sa.Column("return_visit_done", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("project_id", sa.Text, nullable=True),
    sa.Column("project_stage", sa.Text, nullable=True),
    sa.Column("channel", sa.Text, nullable=True),
    sa.Column("unit", sa.Text, nullable=True),
    sa.Column("incident_group_id", UUID(as_uuid=True), nullable=True),
    sa.Column("in_working_time", sa.Boolean, nullable=True),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("difficult_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
]


def upgrade() -> None:
    for column in NEW_CASE_COLUMNS:
        op.add_column("cases", column, schema=SCHEMA)
    op.create_index("ix_cases_status", "cases", ["status"], schema=SCHEMA)
    op.create_index("ix_cases_handler", "cases", ["handler"], schema=SCHEMA)
    op.create_table(
        "case_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("previous_state", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_case_history_case_id", "case_history", ["case_id"], schema=SCHEMA)
    op.create_table(
        "deadlines",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("calendar_version", sa.Text, nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_to", sa.Text, nullable=True),
        sa.UniqueConstraint("case_id", "kind", name="uq_deadline_case_kind"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deadlines_pending", "deadlines", ["due_at"], schema=SCHEMA,
        postgresql_where=sa.text("met_at IS NULL AND breached_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_table(
        "corrective_actions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.Text, nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective", sa.Boolean, nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_corrective_actions_case_id", "corrective_actions", ["case_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("corrective_actions", schema=SCHEMA)
    op.drop_table("deadlines", schema=SCHEMA)
    op.drop_table("case_history", schema=SCHEMA)
    op.drop_index("ix_cases_handler", "cases", schema=SCHEMA)
    op.drop_index("ix_cases_status", "cases", schema=SCHEMA)
    for column in reversed(NEW_CASE_COLUMNS):
        op.drop_column("cases", column.name, schema=SCHEMA)
