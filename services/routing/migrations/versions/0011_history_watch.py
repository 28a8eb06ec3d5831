"""routing: broker_watch, the last record seen per topic partition (a broker that lost its history is detected)

Revision ID: 0011
Revises: 0010
"""

from shared.db.migration_ops import create_history_watch, drop_history_watch

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    create_history_watch(SCHEMA)


def downgrade() -> None:
    drop_history_watch(SCHEMA)
