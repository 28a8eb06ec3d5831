"""reporting: complaint and survey counts, outbox, inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    op.create_table(
        "complaint_counts",
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("org_level", sa.Text, primary_key=True),
        sa.Column("org_path", sa.Text, primary_key=True),
        sa.Column("complaint_class", sa.SmallInteger, primary_key=True),
        sa.Column("complaints", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "survey_counts",
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("org_level", sa.Text, primary_key=True),
        sa.Column("org_path", sa.Text, primary_key=True),
        sa.Column("scheme", sa.Text, primary_key=True),
        sa.Column("responses", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("survey_counts", schema=SCHEMA)
    op.drop_table("complaint_counts", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
