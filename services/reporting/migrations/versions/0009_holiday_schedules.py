"""reporting: holiday schedules loaded; deadline facts marked provisional; the complaint list's
return-visit decisions

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from shared.calendar_store import create_holiday_schedules

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    create_holiday_schedules(SCHEMA)
    op.add_column("deadline_facts", sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()),
                  schema=SCHEMA)
    op.add_column("complaint_list_facts", sa.Column("return_visit_decided", sa.Boolean), schema=SCHEMA)
    op.add_column("complaint_list_facts", sa.Column("return_visit_basis", sa.Text), schema=SCHEMA)
    op.add_column("complaint_list_facts", sa.Column("return_visit_as_of", sa.DateTime(timezone=True)), schema=SCHEMA)


def downgrade() -> None:
    for column in ("return_visit_as_of", "return_visit_basis", "return_visit_decided"):
        op.drop_column("complaint_list_facts", column, schema=SCHEMA)
    op.drop_column("deadline_facts", "provisional", schema=SCHEMA)
    op.drop_table("holiday_schedules", schema=SCHEMA)
