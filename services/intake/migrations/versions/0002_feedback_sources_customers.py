"""intake: sources, idempotency, duplicates and incident groups; customers

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("feedback", sa.Column("in_working_time", sa.Boolean, nullable=True), schema=SCHEMA)
    op.add_column("feedback", sa.Column("source_system", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("feedback", sa.Column("external_id", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("feedback", sa.Column("duplicate_of", UUID(as_uuid=True), nullable=True), schema=SCHEMA)
    op.add_column("feedback", sa.Column("incident_group_id", UUID(as_uuid=True), nullable=True), schema=SCHEMA)
    op.create_unique_constraint(
        "uq_feedback_source_external", "feedback", ["source_system", "external_id"], schema=SCHEMA
    )
    op.create_index("ix_feedback_project_received", "feedback", ["project_id", "received_at"], schema=SCHEMA)
    op.create_table(
        "submissions",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("feedback_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "customers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("customer_kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("company", sa.Text, nullable=True),
        sa.Column("phones", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("key_customer", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("project_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_index("ix_customers_phones", "customers", ["phones"], schema=SCHEMA, postgresql_using="gin")
    op.create_index("ix_customers_emails", "customers", ["emails"], schema=SCHEMA, postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("customers", schema=SCHEMA)
    op.drop_table("submissions", schema=SCHEMA)
    op.drop_index("ix_feedback_project_received", "feedback", schema=SCHEMA)
    op.drop_constraint("uq_feedback_source_external", "feedback", schema=SCHEMA)
    for column in ("incident_group_id", "duplicate_of", "external_id", "source_system", "in_working_time"):
        op.drop_column("feedback", column, schema=SCHEMA)
