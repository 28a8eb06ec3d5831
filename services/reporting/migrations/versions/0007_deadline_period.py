"""reporting: deadline facts carry their case's month; unmet deadlines and open cases per org indexed

The deadline counts of a month read that month's deadline facts instead of joining the month's
cases to every deadline fact ever projected; the overdue counts per org unit read the unmet
deadlines and the open cases from two indexes.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.add_column("deadline_facts", sa.Column(
        "period", sa.Text,
        comment="its case's month (Asia/Shanghai), when the schedule said; else None: see case_facts"), schema=SCHEMA)
    op.execute("UPDATE reporting.deadline_facts d SET period = c.period FROM reporting.case_facts c "
               "WHERE c.case_id = d.case_id AND d.period IS NULL")
    op.create_index("ix_deadline_facts_period_org", "deadline_facts",
                    ["period", "org_group", "org_subsidiary", "org_project"], schema=SCHEMA)
    op.create_index("ix_deadline_facts_unmet", "deadline_facts", ["case_id", "due_at"], schema=SCHEMA,
                    postgresql_where=sa.text("met_at IS NULL"))
    op.create_index("ix_case_facts_open_org", "case_facts", ["org_group", "org_subsidiary", "org_project", "case_id"],
                    schema=SCHEMA, postgresql_where=sa.text("state NOT IN ('closed', 'handed_over')"))


def downgrade() -> None:
    op.drop_index("ix_case_facts_open_org", table_name="case_facts", schema=SCHEMA)
    op.drop_index("ix_deadline_facts_unmet", table_name="deadline_facts", schema=SCHEMA)
    op.drop_index("ix_deadline_facts_period_org", table_name="deadline_facts", schema=SCHEMA)
    op.drop_column("deadline_facts", "period", schema=SCHEMA)
