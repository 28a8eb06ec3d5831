"""reporting: outbox rows the broker refuses for good are parked

Revision ID: 0011
Revises: 0010
"""

from shared.db.migration_ops import add_outbox_parking, drop_outbox_parking

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    add_outbox_parking(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(SCHEMA)
