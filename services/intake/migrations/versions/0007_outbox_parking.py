"""intake: outbox rows the broker refuses for good are parked

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column("outbox", sa.Column("parked_reason", sa.Text, nullable=True), schema=SCHEMA)
    op.create_index("ix_outbox_parked", "outbox", ["id"], schema=SCHEMA,
                    postgresql_where=sa.text("parked_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox", schema=SCHEMA)
    op.drop_column("outbox", "parked_reason", schema=SCHEMA)
    op.drop_column("outbox", "parked_at", schema=SCHEMA)
