"""survey: templates, invitations, refused answers, registry copies, cases, campaigns, evaluations

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "survey"
_UUID = UUID(as_uuid=True)
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("template_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("scheme", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_templates_version"),
        sa.CheckConstraint("scheme IN ('A', 'B', 'C', 'D')", name="ck_templates_scheme"),
        schema=SCHEMA,
    )

    # What a response is about, and where it came from (templates, invitations, campaigns, tools).
    for column in [
        sa.Column("template_registered", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("satisfied", sa.Boolean, nullable=True),
        sa.Column("hazard_deduction", sa.Numeric(6, 2), nullable=True),
        sa.Column("household_id", _UUID, nullable=True),
        sa.Column("unit_id", _UUID, nullable=True),
        sa.Column("case_id", _UUID, nullable=True),
        sa.Column("campaign_id", _UUID, nullable=True),
        sa.Column("invitation_id", _UUID, nullable=True),
        sa.Column("evaluation_id", _UUID, nullable=True),
        sa.Column("source_system", sa.Text, nullable=True),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("entered_by", sa.Text, nullable=True),
    ]:
        op.add_column("responses", column, schema=SCHEMA)
    op.create_index("ix_responses_campaign_id", "responses", ["campaign_id"], schema=SCHEMA)
    op.create_index("ix_responses_household_id", "responses", ["household_id"], schema=SCHEMA)
    op.create_index("uq_responses_invitation_id", "responses", ["invitation_id"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("invitation_id IS NOT NULL"))
    op.create_index("uq_responses_source_external", "responses", ["source_system", "external_id"], unique=True,
                    schema=SCHEMA, postgresql_where=sa.text("external_id IS NOT NULL"))

    op.create_table(
        "refused_answers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("refused_at", _TS, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("reason_code", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("problems", JSONB, nullable=False),
        sa.Column("template_id", sa.Text, nullable=True),
        sa.Column("template_version", sa.Integer, nullable=True),
        sa.Column("invitation_id", _UUID, nullable=True),
        sa.Column("campaign_id", _UUID, nullable=True),
        sa.Column("case_id", _UUID, nullable=True),
        sa.Column("household_id", _UUID, nullable=True),
        sa.Column("project_id", sa.Text, nullable=True),
        sa.Column("source_system", sa.Text, nullable=True),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("answers", JSONB, nullable=True),
        sa.Column("correlation_id", _UUID, nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_refused_answers_refused_at", "refused_answers", ["refused_at"], schema=SCHEMA)
    op.create_index("ix_refused_answers_campaign_id", "refused_answers", ["campaign_id"], schema=SCHEMA)

    op.create_table(
        "invitations",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("template_id", sa.Text, nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False, server_default="link"),
        sa.Column("case_id", _UUID, nullable=True),
        sa.Column("work_order_id", _UUID, nullable=True),
        sa.Column("campaign_id", _UUID, nullable=True),
        sa.Column("project_id", sa.Text, nullable=True),
        sa.Column("unit_id", _UUID, nullable=True),
        sa.Column("household_id", _UUID, nullable=True),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("handed_out_at", _TS, nullable=True),
        sa.Column("used_at", _TS, nullable=True),
        sa.Column("response_id", _UUID, nullable=True),
        sa.Column("reminders_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_reminder_at", _TS, nullable=True),
        sa.Column("correlation_id", _UUID, nullable=False),
        sa.CheckConstraint("purpose IN ('complaint_return_visit', 'repair_return_visit', 'campaign')",
                           name="ck_invitations_purpose"),
        sa.CheckConstraint("delivery IN ('link', 'paper')", name="ck_invitations_delivery"),
        schema=SCHEMA,
    )
    # One return visit per case, however many events ask for it.
    op.create_index("uq_invitations_case_id", "invitations", ["case_id"], unique=True, schema=SCHEMA,
                    postgresql_where=sa.text("case_id IS NOT NULL"))
    op.create_index("uq_invitations_campaign_unit", "invitations", ["campaign_id", "unit_id"], unique=True,
                    schema=SCHEMA, postgresql_where=sa.text("campaign_id IS NOT NULL"))
    op.create_index("ix_invitations_next_reminder_at", "invitations", ["next_reminder_at"], schema=SCHEMA,
                    postgresql_where=sa.text("used_at IS NULL AND next_reminder_at IS NOT NULL"))
    op.create_index("ix_invitations_household_id", "invitations", ["household_id"], schema=SCHEMA)

    op.create_table(
        "cases",
        sa.Column("case_id", _UUID, primary_key=True),
        sa.Column("important", sa.Boolean, nullable=True),
        sa.Column("project_id", sa.Text, nullable=True),
        sa.Column("customer_id", _UUID, nullable=True),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.Column("decision", sa.Text, nullable=True),
        sa.Column("correlation_id", _UUID, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"], schema=SCHEMA)

    op.create_table(
        "projects",
        sa.Column("project_id", sa.Text, primary_key=True),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("stage_since", sa.Date, nullable=False),
        sa.Column("first_seen", sa.Date, nullable=False),
        sa.Column("signed_on", sa.Date, nullable=True),
        sa.Column("completion_date", sa.Date, nullable=True),
        sa.Column("warranty_end", sa.Date, nullable=True),
        sa.Column("households", sa.Integer, nullable=True),
        sa.Column("occupied_units", sa.Integer, nullable=True),
        sa.Column("occupancy_start", sa.Date, nullable=True),
        sa.Column("buildings", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("revision", sa.Integer, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "units",
        sa.Column("unit_id", _UUID, primary_key=True),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("building", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("occupied", sa.Boolean, nullable=False),
        sa.Column("household_id", _UUID, nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_units_project_id", "units", ["project_id"], schema=SCHEMA)
    op.create_index("ix_units_household_id", "units", ["household_id"], schema=SCHEMA)
    op.create_table(
        "households",
        sa.Column("customer_id", _UUID, primary_key=True),
        sa.Column("customer_kind", sa.Text, nullable=True),
        sa.Column("project_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("unit_ids", ARRAY(_UUID), nullable=False, server_default="{}"),
        sa.Column("has_phone", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("has_email", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("erased_at", _TS, nullable=True),
        schema=SCHEMA,
    )

    op.create_table(
        "campaigns",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
        sa.Column("round", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("template_id", sa.Text, nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False),
        sa.Column("seed", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("hand_out_by", _TS, nullable=False),
        sa.Column("collect_by", _TS, nullable=False),
        sa.Column("occupied_units", sa.Integer, nullable=False),
        sa.Column("households", sa.Integer, nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("carried_over", sa.Integer, nullable=False),
        sa.Column("drawn", sa.Integer, nullable=False),
        sa.Column("return_target", sa.Numeric(5, 2), nullable=False),
        sa.Column("per_building", JSONB, nullable=False),
        sa.Column("hand_out_reminded_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("results", JSONB, nullable=True),
        sa.Column("correlation_id", _UUID, nullable=False),
        sa.UniqueConstraint("project_id", "round", "rule", "period", name="uq_campaigns_round"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_campaigns_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_campaigns_open_collect_by", "campaigns", ["collect_by"], schema=SCHEMA,
                    postgresql_where=sa.text("status = 'open'"))

    op.create_table(
        "evaluations",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("opens_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("template_id", sa.Text, nullable=False),
        sa.Column("due_notified_at", _TS, nullable=True),
        sa.Column("overdue_notified_at", _TS, nullable=True),
        sa.Column("recorded_at", _TS, nullable=True),
        sa.Column("evaluated_on", sa.Date, nullable=True),
        sa.Column("response_id", _UUID, nullable=True),
        sa.Column("sheet_score", sa.Numeric(7, 2), nullable=True),
        sa.Column("grade", sa.Text, nullable=True),
        sa.UniqueConstraint("project_id", "stage", "period", name="uq_evaluations_period"),
        schema=SCHEMA,
    )
    op.create_index("ix_evaluations_open", "evaluations", ["due_on"], schema=SCHEMA,
                    postgresql_where=sa.text("recorded_at IS NULL"))

    op.create_table(
        "project_flags",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("flag", sa.Text, nullable=False),
        sa.Column("reasons", ARRAY(sa.Text), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("campaign_id", _UUID, nullable=True),
        sa.Column("evaluation_id", _UUID, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("flagged_at", _TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_project_flags_project_id", "project_flags", ["project_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("project_flags", "evaluations", "campaigns", "households", "units", "projects", "cases",
                  "invitations", "refused_answers", "templates"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("uq_responses_source_external", "responses", schema=SCHEMA)
    op.drop_index("uq_responses_invitation_id", "responses", schema=SCHEMA)
    op.drop_index("ix_responses_household_id", "responses", schema=SCHEMA)
    op.drop_index("ix_responses_campaign_id", "responses", schema=SCHEMA)
    for column in ("entered_by", "external_id", "source_system", "evaluation_id", "invitation_id", "campaign_id",
                   "case_id", "unit_id", "household_id", "hazard_deduction", "satisfied", "template_registered"):
        op.drop_column("responses", column, schema=SCHEMA)
