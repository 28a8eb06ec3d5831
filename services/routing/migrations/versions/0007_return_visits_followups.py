"""routing: return-visit decisions and follow-ups

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
