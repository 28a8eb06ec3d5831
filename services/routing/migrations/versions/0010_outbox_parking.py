"""routing: outbox rows the broker refuses for good are parked

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column("outbox", sa.Column("parked_reason", sa.Text, nullable=True), schema=SCHEMA)
    op.create_index("ix_outbox_parked", "outbox", ["id"], schema=SCHEMA,
                    postgresql_where=sa.text("parked_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox", schema=SCHEMA)
    op.drop_column("outbox", "parked_reason", schema=SCHEMA)
    op.drop_column("outbox", "parked_at", schema=SCHEMA)
