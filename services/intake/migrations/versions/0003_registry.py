"""intake: registry of org units, projects and units

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit_type", sa.Text, nullable=False),
        sa.Column("parent_path", sa.Text, sa.ForeignKey(f"{SCHEMA}.org_units.path"), nullable=True),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("level IN ('group', 'subsidiary', 'project')", name="ck_org_units_level"),
        schema=SCHEMA,
    )
    op.create_index("ix_org_units_parent_path", "org_units", ["parent_path"], schema=SCHEMA)
    op.create_table(
        "projects",
        sa.Column("project_id", sa.Text, primary_key=True),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text, nullable=False),
        sa.Column("org_project", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contract_number", sa.Text, nullable=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("completion_date", sa.Date, nullable=True),
        sa.Column("warranty_end", sa.Date, nullable=True),
        sa.Column("households", sa.Integer, nullable=True),
        sa.Column("occupied_units", sa.Integer, nullable=True),
        sa.Column("occupancy_start", sa.Date, nullable=True),
        sa.Column("buildings", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # The domain checks these with reasons; the database keeps them true whatever writes.
        sa.CheckConstraint(
            "warranty_end IS NULL OR completion_date IS NULL OR warranty_end >= completion_date",
            name="ck_projects_warranty_after_completion",
        ),
        sa.CheckConstraint(
            "occupied_units IS NULL OR households IS NULL OR occupied_units <= households",
            name="ck_projects_occupied_within_households",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_projects_org", "projects", ["org_group", "org_subsidiary", "org_project"], schema=SCHEMA)
    op.create_table(
        "units",
        sa.Column("unit_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("project_id", sa.Text, sa.ForeignKey(f"{SCHEMA}.projects.project_id"), nullable=False),
        sa.Column("building", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("occupied", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "household_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.customers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("project_id", "building", "label", name="uq_units_project_building_label"),
        schema=SCHEMA,
    )
    op.create_index("ix_units_household_id", "units", ["household_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("units", schema=SCHEMA)
    op.drop_table("projects", schema=SCHEMA)
    op.drop_table("org_units", schema=SCHEMA)
