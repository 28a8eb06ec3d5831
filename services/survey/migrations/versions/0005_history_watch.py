"""survey: broker_watch, the last record seen per topic partition (a broker that lost its history is detected)

Revision ID: 0005
Revises: 0004
"""

from shared.db.migration_ops import create_history_watch, drop_history_watch

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "survey"


def upgrade() -> None:
    create_history_watch(SCHEMA)


def downgrade() -> None:
    drop_history_watch(SCHEMA)
