"""routing: the marks of each case's customer's names (never the names), to find them in staff notes

``cases.customer_name_marks``: keyed digests of the names, as FeedbackReceived carries them
(``shared.pii_detect.name_marks``); cleared when the customer is erased. ``work_orders.customer_name_marks``:
those of every case on the work order.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("cases", sa.Column("customer_name_marks", ARRAY(sa.Text), nullable=False, server_default="{}",
                                     comment="shared.pii_detect.name_marks of the customer's names"),
                  schema=SCHEMA)
    op.add_column("work_orders", sa.Column("customer_name_marks", ARRAY(sa.Text), nullable=False,
                                           server_default="{}", comment="the marks of its cases' customers"),
                  schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("work_orders", "customer_name_marks", schema=SCHEMA)
    op.drop_column("cases", "customer_name_marks", schema=SCHEMA)
