"""reporting: the cases still open, indexed in the order the open-cases view lists them

Without it the view read every case ever projected to keep the few still open.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.create_index("ix_case_facts_open", "case_facts", ["received_at", "case_id"], schema=SCHEMA,
                    postgresql_where=sa.text("state NOT IN ('closed', 'handed_over')"))


def downgrade() -> None:
    op.drop_index("ix_case_facts_open", table_name="case_facts", schema=SCHEMA)
