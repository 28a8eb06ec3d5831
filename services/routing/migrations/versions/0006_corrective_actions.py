"""routing: corrective-action gate and publications

A corrective action's verification note; the quality department's "no corrective action needed"
(once per case, with the reason); important or representative complaints published (once per case).

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("corrective_actions", sa.Column("verification_note", sa.Text()), schema=SCHEMA)
    op.create_table(
        "corrective_action_waivers",
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "complaint_publications",
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), primary_key=True),
        sa.Column("basis", sa.Text(), nullable=False, comment="'important' or 'representative'"),
        sa.Column("summary", sa.Text(), nullable=False, comment="as published: phone numbers and e-mails masked"),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("complaint_publications", schema=SCHEMA)
    op.drop_table("corrective_action_waivers", schema=SCHEMA)
    op.drop_column("corrective_actions", "verification_note", schema=SCHEMA)
