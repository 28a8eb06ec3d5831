"""routing: warranty repairs — project copies, reports, work orders, steps, photos, remediation

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org() -> list[sa.Column]:
    return [
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=True),
        sa.Column("org_project", sa.Text, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "repair_projects",
        sa.Column("project_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("completion_date", sa.Date, nullable=True),
        sa.Column("warranty_end", sa.Date, nullable=True),
        *_org(),
        sa.Column("revision", sa.Integer, nullable=False),
        _ts("updated_at", nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "repair_reports",
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), primary_key=True),
        sa.Column("feedback_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=True),
        sa.Column("building", sa.Text, nullable=True),
        sa.Column("entrance", sa.Text, nullable=True),
        sa.Column("floor", sa.Integer, nullable=True),
        sa.Column("room", sa.Text, nullable=True),
        sa.Column("defect_kind", sa.Text, nullable=False),
        sa.Column("defect_phrases", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("vocabulary_version", sa.Text, nullable=False),
        sa.Column("incident_group_id", UUID(as_uuid=True), nullable=True),
        sa.Column("attachments", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _ts("received_at", nullable=False),
        *_org(),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "work_orders",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("status", sa.Text, nullable=False, comment="services.routing.repairs.domain.WorkOrderState"),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("project_id", sa.Text, nullable=False),
        *_org(),
        sa.Column("defect_kind", sa.Text, nullable=False),
        sa.Column("vocabulary_version", sa.Text, nullable=False),
        sa.Column("building", sa.Text, nullable=True),
        sa.Column("unit", sa.Text, nullable=True),
        _ts("requested_at", nullable=False),
        sa.Column("warranty_status", sa.Text, nullable=False),
        sa.Column("warranty_end", sa.Date, nullable=True),
        sa.Column("warranty_explanation", sa.Text, nullable=False),
        sa.Column("in_warranty", sa.Boolean, nullable=False),
        sa.Column("in_scope", sa.Boolean, nullable=True),
        sa.Column("chargeable", sa.Boolean, nullable=False),
        _ts("respond_by"),
        _ts("responded_at"),
        _ts("customer_requested_by"),
        _ts("due_at"),
        sa.Column("assignee", sa.Text, nullable=True),
        sa.Column("investigation", JSONB, nullable=True),
        sa.Column("plan", JSONB, nullable=True),
        sa.Column("quoted_fee", sa.Numeric(12, 2), nullable=True),
        _ts("fee_confirmed_at"),
        sa.Column("fee_decided_by", sa.Text, nullable=True),
        _ts("work_done_at"),
        _ts("self_inspected_at"),
        sa.Column("self_inspected_by", sa.Text, nullable=True),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_rejection_reason", sa.Text, nullable=True),
        _ts("accepted_at"),
        sa.Column("owner_signature_ref", sa.Text, nullable=True),
        sa.Column("owner_signer_role", sa.Text, nullable=True),
        sa.Column("owner_signer_customer_id", UUID(as_uuid=True), nullable=True),
        sa.Column("contractor_signature_ref", sa.Text, nullable=True),
        sa.Column("contractor_signer", sa.Text, nullable=True),
        _ts("archived_at"),
        _ts("quality_verified_at"),
        sa.Column("quality_verified_by", sa.Text, nullable=True),
        sa.Column("quality_verification_passed", sa.Boolean, nullable=True),
        sa.Column("remediation_id", UUID(as_uuid=True), nullable=True),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        _ts("opened_at", nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        schema=SCHEMA,
    )
    op.create_index("ix_work_orders_status", "work_orders", ["status"], schema=SCHEMA)
    op.create_index("ix_work_orders_assignee", "work_orders", ["assignee"], schema=SCHEMA)
    op.create_index("ix_work_orders_project_kind", "work_orders", ["project_id", "defect_kind", "requested_at"],
                    schema=SCHEMA)
    op.create_table(
        "work_order_cases",
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), primary_key=True),
        sa.Column("work_order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.work_orders.id"), nullable=False),
        sa.Column("link_reason", sa.Text, nullable=False, comment="opened, incident_group or same_area"),
        _ts("linked_at", nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_work_order_cases_work_order_id", "work_order_cases", ["work_order_id"], schema=SCHEMA)
    op.create_table(
        "work_order_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("work_order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.work_orders.id"), nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("previous_state", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        _ts("at", nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("client_step_id", sa.Text, nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_work_order_steps_work_order_id", "work_order_steps", ["work_order_id"], schema=SCHEMA)
    op.create_table(
        "work_order_photos",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("work_order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.work_orders.id"), nullable=False),
        sa.Column("step_id", sa.BigInteger, sa.ForeignKey(f"{SCHEMA}.work_order_steps.id"), nullable=True),
        sa.Column("ref", sa.Text, nullable=False, comment="object key or URL, never the picture"),
        sa.Column("added_by", sa.Text, nullable=False),
        _ts("added_at", nullable=False),
        sa.UniqueConstraint("work_order_id", "ref", name="uq_work_order_photo"),
        schema=SCHEMA,
    )
    op.create_table(
        "remediation_items",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("project_id", sa.Text, nullable=False),
        sa.Column("defect_kind", sa.Text, nullable=False),
        *_org(),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("window_days", sa.Integer, nullable=False),
        _ts("detected_at", nullable=False),
        sa.Column("plan", sa.Text, nullable=True),
        sa.Column("responsible_department", sa.Text, nullable=True),
        _ts("due_at"),
        _ts("implemented_at"),
        _ts("accepted_at"),
        sa.Column("representative_role", sa.Text, nullable=True),
        sa.Column("representative_customer_id", UUID(as_uuid=True), nullable=True),
        sa.Column("signature_ref", sa.Text, nullable=True),
        sa.Column("evaluation", sa.Text, nullable=True),
        sa.Column("effective", sa.Boolean, nullable=True),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        schema=SCHEMA,
    )
    op.create_index("uq_remediation_open", "remediation_items", ["project_id", "defect_kind"], unique=True,
                    schema=SCHEMA, postgresql_where=sa.text("status <> 'accepted'"))
    op.create_table(
        "remediation_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("remediation_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.remediation_items.id"),
                  nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("previous_state", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        _ts("at", nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=SCHEMA,
    )
    op.create_index("ix_remediation_steps_remediation_id", "remediation_steps", ["remediation_id"], schema=SCHEMA)
    op.create_table(
        "repair_requests",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response", JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("repair_requests", schema=SCHEMA)
    op.drop_table("remediation_steps", schema=SCHEMA)
    op.drop_table("remediation_items", schema=SCHEMA)
    op.drop_table("work_order_photos", schema=SCHEMA)
    op.drop_table("work_order_steps", schema=SCHEMA)
    op.drop_table("work_order_cases", schema=SCHEMA)
    op.drop_table("work_orders", schema=SCHEMA)
    op.drop_table("repair_reports", schema=SCHEMA)
    op.drop_table("repair_projects", schema=SCHEMA)
