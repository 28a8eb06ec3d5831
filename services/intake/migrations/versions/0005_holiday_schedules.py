"""intake: loaded holiday schedules

Intake tells whether feedback arrived in working time; it keeps the holiday schedules operators
load (HolidayScheduleLoaded) so that every intake replica counts on them.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from shared.calendar_store import create_holiday_schedules

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    create_holiday_schedules(SCHEMA)


def downgrade() -> None:
    op.drop_table("holiday_schedules", schema=SCHEMA)
