"""reporting: escalation notifications, complaints to the group and government offices

Revision ID: 0010
Revises: 0009
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
