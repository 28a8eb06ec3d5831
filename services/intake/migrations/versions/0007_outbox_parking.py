"""intake: outbox rows the broker refuses for good are parked

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
