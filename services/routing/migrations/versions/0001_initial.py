"""routing: cases, outbox, inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from shared.db.migration_ops import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    op.create_table(
        "cases",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("feedback_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("complaint_class", sa.SmallInteger, nullable=True),
        sa.Column("valid", sa.Boolean, nullable=True),
        sa.Column("important", sa.Boolean, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("rules_fired", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("lead_department", sa.Text, nullable=True),
        sa.Column("assisting_departments", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("first_contact_owner", sa.Text, nullable=False),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("cases", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
