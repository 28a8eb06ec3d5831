"""survey: parked outbox rows; a bounded record of refused survey answers

Revision ID: 0004
Revises: 0003
"""

from shared.db.migration_ops import add_outbox_parking, drop_outbox_parking

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "survey"


def upgrade() -> None:
    add_outbox_parking(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(SCHEMA)
