"""reporting: case, deadline and survey facts

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def _org() -> list[sa.Column]:
    return [sa.Column("org_group", sa.Text, nullable=False), sa.Column("org_subsidiary", sa.Text),
            sa.Column("org_project", sa.Text)]


def upgrade() -> None:
    # The foundation's running counters give way to facts that tolerate late and repeated events.
    op.drop_table("complaint_counts", schema=SCHEMA)
    op.drop_table("survey_counts", schema=SCHEMA)
    op.create_table(
        "case_facts",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("feedback_id", UUID(as_uuid=True)),
        sa.Column("kind", sa.Text),
        *_org(),
        sa.Column("period", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True)),
        sa.Column("category", sa.Text),
        sa.Column("complaint_class", sa.SmallInteger),
        sa.Column("valid", sa.Boolean),
        sa.Column("important", sa.Boolean),
        sa.Column("needs_triage", sa.Boolean),
        sa.Column("reclassified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("classified_as_of", sa.DateTime(timezone=True)),
        sa.Column("lead_department", sa.Text),
        sa.Column("assigned_as_of", sa.DateTime(timezone=True)),
        sa.Column("state", sa.Text),
        sa.Column("state_as_of", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("handed_over", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("return_visit_done", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("escalations", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_index("ix_case_facts_period_org", "case_facts",
                    ["period", "org_group", "org_subsidiary", "org_project"], schema=SCHEMA)
    op.create_table(
        "deadline_facts",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        *_org(),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("scheduled_as_of", sa.DateTime(timezone=True)),
        sa.Column("met_at", sa.DateTime(timezone=True)),
        sa.Column("breached_at", sa.DateTime(timezone=True)),
        sa.Column("escalated_to", sa.Text),
        schema=SCHEMA,
    )
    op.create_table(
        "survey_facts",
        sa.Column("response_id", UUID(as_uuid=True), primary_key=True),
        *_org(),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("template_id", sa.Text, nullable=False),
        sa.Column("scheme", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("case_id", UUID(as_uuid=True)),
        sa.Column("campaign_id", UUID(as_uuid=True)),
        sa.Column("score", sa.Float),
        sa.Column("satisfied", sa.Boolean),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "survey_item_facts",
        sa.Column("response_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("item_id", sa.Text, primary_key=True),
        *_org(),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("template_id", sa.Text, nullable=False),
        sa.Column("level", sa.Text),
        sa.Column("satisfied", sa.Boolean),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("survey_item_facts", "survey_facts", "deadline_facts", "case_facts"):
        op.drop_table(table, schema=SCHEMA)
