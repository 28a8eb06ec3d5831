"""routing: corrective-action gate and publications

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
