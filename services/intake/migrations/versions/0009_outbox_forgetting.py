"""intake: outbox.forget_after_publish (a row an erasure found still waiting is deleted once published)

Revision ID: 0009
Revises: 0008
"""

from shared.db.migration_ops import add_outbox_forgetting, drop_outbox_forgetting

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    add_outbox_forgetting(SCHEMA)


def downgrade() -> None:
    drop_outbox_forgetting(SCHEMA)
