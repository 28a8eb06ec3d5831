"""routing: outbox rows the broker refuses for good are parked

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
