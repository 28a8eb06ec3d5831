"""reporting: facts of repairs, remediations, campaigns, project evaluations, flags and case owners

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def _org() -> list[sa.Column]:
    return [sa.Column("org_group", sa.Text, nullable=False), sa.Column("org_subsidiary", sa.Text),
            sa.Column("org_project", sa.Text), sa.Column("project_id", sa.Text)]


def _at(name: str, comment: str | None = None) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), comment=comment)


def upgrade() -> None:
    op.create_table(
        "repair_facts",
        sa.Column("work_order_id", UUID(as_uuid=True), primary_key=True),
        *_org(),
        sa.Column("period", sa.Text, comment="month requested, Asia/Shanghai"),
        sa.Column("origin", sa.Text), sa.Column("defect_kind", sa.Text),
        sa.Column("in_warranty", sa.Boolean), sa.Column("chargeable", sa.Boolean),
        sa.Column("quoted_fee", sa.Numeric(12, 2)),
        _at("requested_at"), _at("respond_by"), _at("responded_at", "site investigation"),
        _at("finish_by", "the time the customer asked for, else the agreed plan's finish"), _at("plan_as_of"),
        _at("work_done_at", "the last completion"), _at("accepted_at"), sa.Column("accepted_period", sa.Text),
        sa.Column("rejections", sa.Integer, nullable=False, server_default="0"),
        sa.Column("case_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quality_verified", sa.Boolean),
        sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.create_index("ix_repair_facts_period_org", "repair_facts",
                    ["period", "org_group", "org_subsidiary", "org_project"], schema=SCHEMA)
    op.create_index("ix_repair_facts_accepted_org", "repair_facts",
                    ["accepted_period", "org_group", "org_subsidiary", "org_project"], schema=SCHEMA)
    op.create_table(
        "remediation_facts",
        sa.Column("remediation_id", UUID(as_uuid=True), primary_key=True),
        *_org(),
        sa.Column("defect_kind", sa.Text),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="0"),
        _at("detected_at"), sa.Column("period", sa.Text, comment="month detected"),
        _at("accepted_at"), sa.Column("effective", sa.Boolean),
        schema=SCHEMA,
    )
    op.create_table(
        "campaign_facts",
        sa.Column("campaign_id", UUID(as_uuid=True), primary_key=True),
        *_org(),
        sa.Column("round_period", sa.Text, comment="'2026H1', '2026H2' or '2026'"),
        sa.Column("round", sa.Text), sa.Column("rule", sa.Text), sa.Column("template_id", sa.Text),
        sa.Column("scheme", sa.Text), sa.Column("occupied_units", sa.Integer), sa.Column("households", sa.Integer),
        sa.Column("required", sa.Integer), sa.Column("drawn", sa.Integer),
        sa.Column("return_target_percent", sa.Float), _at("collect_by"), _at("closed_at"),
        sa.Column("distributed", sa.Integer), sa.Column("returned", sa.Integer), sa.Column("refused", sa.Integer),
        sa.Column("return_rate", sa.Float), sa.Column("return_ok", sa.Boolean),
        sa.Column("distribution_ok", sa.Boolean), sa.Column("annual_coverage_ok", sa.Boolean),
        sa.Column("score", sa.Float), sa.Column("satisfied", sa.Boolean),
        schema=SCHEMA,
    )
    op.create_table(
        "evaluation_facts",
        sa.Column("evaluation_id", UUID(as_uuid=True), primary_key=True),
        *_org(),
        sa.Column("stage", sa.Text), sa.Column("period", sa.Text, comment="'signing', 'YYYY-MM' or 'YYYYQn'"),
        sa.Column("due_on", sa.Date), sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("evaluated_on", sa.Date), sa.Column("sheet_score", sa.Float), sa.Column("sheet_grade", sa.Text),
        sa.Column("project_score", sa.Float), sa.Column("project_grade", sa.Text),
        sa.Column("satisfaction_project", sa.Boolean),
        schema=SCHEMA,
    )
    op.create_table(
        "project_flag_facts",
        sa.Column("flag_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_group", sa.Text, nullable=False), sa.Column("org_subsidiary", sa.Text),
        sa.Column("org_project", sa.Text), sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("flag", sa.Text, nullable=False), sa.Column("source", sa.Text, nullable=False),
        sa.Column("score", sa.Float), sa.Column("threshold", sa.Float),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.Text, nullable=False, comment="month flagged"),
        schema=SCHEMA,
    )
    op.create_table(
        "case_owner_facts",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("case_owner_facts", "project_flag_facts", "evaluation_facts", "campaign_facts",
                  "remediation_facts", "repair_facts"):
        op.drop_table(table, schema=SCHEMA)
