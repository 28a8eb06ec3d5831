"""reporting: complaints that reached the group company, a government office or the media

``case_facts.escalated_to_body``: group / government / media, as logged in routing by whoever
received the complaint there (CaseEscalated.data.external_body); the monthly summary counts these
complaints separately.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.add_column("case_facts", sa.Column(
        "escalated_to_body", sa.Text, comment="group / government / media: where the complaint also went"),
        schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("case_facts", "escalated_to_body", schema=SCHEMA)
