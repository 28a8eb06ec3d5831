"""reporting: the complaint list (客诉清单)

One row per complaint beside its case fact: the newest corrective action and its verification,
how many actions were recorded and verified, the quality department's "none needed", the
customer's acceptance, the publication.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.create_table(
        "complaint_list_facts",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_group", sa.Text, nullable=False),
        sa.Column("org_subsidiary", sa.Text),
        sa.Column("org_project", sa.Text),
        sa.Column("corrective_action_id", UUID(as_uuid=True), comment="the newest action"),
        sa.Column("corrective_department", sa.Text),
        sa.Column("corrective_description", sa.Text),
        sa.Column("corrective_recorded_at", sa.DateTime(timezone=True)),
        sa.Column("corrective_verified_at", sa.DateTime(timezone=True)),
        sa.Column("corrective_effective", sa.Boolean),
        sa.Column("corrective_actions", sa.Integer, nullable=False, server_default="0", comment="actions recorded"),
        sa.Column("corrective_verified", sa.Integer, nullable=False, server_default="0", comment="actions verified"),
        sa.Column("corrective_waived_at", sa.DateTime(timezone=True), comment="quality: no corrective action needed"),
        sa.Column("customer_accepted", sa.Boolean, comment="the customer's latest answer"),
        sa.Column("acceptance_as_of", sa.DateTime(timezone=True)),
        sa.Column("acceptance_rejections", sa.Integer, nullable=False, server_default="0"),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("publication_basis", sa.Text, comment="'important' or 'representative'"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("complaint_list_facts", schema=SCHEMA)
