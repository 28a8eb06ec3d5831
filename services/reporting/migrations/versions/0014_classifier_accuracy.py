"""reporting: what the classifier said first about each complaint (its accuracy against staff corrections)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("machine_category", sa.Text()), schema=SCHEMA)
    op.add_column("case_facts", sa.Column("machine_class", sa.SmallInteger()), schema=SCHEMA)
    op.add_column("case_facts", sa.Column("classifier_version", sa.Text()), schema=SCHEMA)


def downgrade() -> None:
    for column in ("classifier_version", "machine_class", "machine_category"):
        op.drop_column("case_facts", column, schema=SCHEMA)
