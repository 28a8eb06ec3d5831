"""reporting: survey facts indexed by month and org unit, as the case facts are

The satisfaction, survey-count and org-unit views read one month of one org unit; without these
indexes each request scanned every survey answer ever projected.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "reporting"
ORG = ["period", "org_group", "org_subsidiary", "org_project"]


def upgrade() -> None:
    op.create_index("ix_survey_facts_period_org", "survey_facts", ORG, schema=SCHEMA)
    op.create_index("ix_survey_item_facts_period_org", "survey_item_facts", ORG, schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_survey_item_facts_period_org", table_name="survey_item_facts", schema=SCHEMA)
    op.drop_index("ix_survey_facts_period_org", table_name="survey_facts", schema=SCHEMA)
