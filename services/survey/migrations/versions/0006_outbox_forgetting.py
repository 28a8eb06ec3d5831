"""survey: outbox.forget_after_publish (a row an erasure found still waiting is deleted once published)

Revision ID: 0006
Revises: 0005
"""

from shared.db.migration_ops import add_outbox_forgetting, drop_outbox_forgetting

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "survey"


def upgrade() -> None:
    add_outbox_forgetting(SCHEMA)


def downgrade() -> None:
    drop_outbox_forgetting(SCHEMA)
