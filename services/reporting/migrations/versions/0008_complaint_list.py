"""reporting: the complaint list (客诉清单)

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
