"""routing: outbox.forget_after_publish (a row an erasure found still waiting is deleted once published)

Revision ID: 0013
Revises: 0012
"""

from shared.db.migration_ops import add_outbox_forgetting, drop_outbox_forgetting

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    add_outbox_forgetting(SCHEMA)


def downgrade() -> None:
    drop_outbox_forgetting(SCHEMA)
