"""intake: outbox rows the broker refuses for good are parked

Revision ID: 0007
Revises: 0006
"""

from shared.db.migration_ops import add_outbox_parking, drop_outbox_parking

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    add_outbox_parking(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(SCHEMA)
