"""reporting: broker_watch, the last record seen per topic partition (a broker that lost its history is detected)

Revision ID: 0012
Revises: 0011
"""

from shared.db.migration_ops import create_history_watch, drop_history_watch

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    create_history_watch(SCHEMA)


def downgrade() -> None:
    drop_history_watch(SCHEMA)
