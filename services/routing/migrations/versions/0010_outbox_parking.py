"""routing: outbox rows the broker refuses for good are parked

Revision ID: 0010
Revises: 0009
"""

from shared.db.migration_ops import add_outbox_parking, drop_outbox_parking

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    add_outbox_parking(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(SCHEMA)
