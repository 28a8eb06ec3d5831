"""routing: loaded holiday schedules; deadlines marked provisional, explained in English too

A year's official holiday schedule, loaded by an operator, is kept here (one row per year, the
latest load) so that every routing replica counts on it; a deadline counted over a year with no
official schedule is marked provisional until that year's schedule is loaded.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from shared.calendar_store import create_holiday_schedules

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    create_holiday_schedules(SCHEMA)
    op.add_column("deadlines", sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()),
                  schema=SCHEMA)
    # explanation is what people read by default (Chinese); this is the same in English, on request
    op.add_column("deadlines", sa.Column("explanation_en", sa.Text), schema=SCHEMA)
    op.create_index("ix_deadlines_open_provisional", "deadlines", ["due_at"], schema=SCHEMA,
                    postgresql_where=sa.text("provisional AND met_at IS NULL AND breached_at IS NULL "
                                             "AND cancelled_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_deadlines_open_provisional", table_name="deadlines", schema=SCHEMA)
    op.drop_column("deadlines", "explanation_en", schema=SCHEMA)
    op.drop_column("deadlines", "provisional", schema=SCHEMA)
    op.drop_table("holiday_schedules", schema=SCHEMA)
