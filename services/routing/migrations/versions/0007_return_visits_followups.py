"""routing: return-visit decisions and follow-ups

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    # The quality department's return-visit choice for a case, the basis of the decision in force,
    # and (once the result is accepted) whether a return visit is due before the case may close.
    op.add_column("cases", sa.Column("return_visit_choice", sa.Boolean, nullable=True), schema=SCHEMA)
    op.add_column("cases", sa.Column("return_visit_basis", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("cases", sa.Column("return_visit_required", sa.Boolean, nullable=True), schema=SCHEMA)
    # A follow-up case (a dissatisfied answer on a case's return visit) names the case it follows up.
    op.add_column("cases", sa.Column("follow_up_of", UUID(as_uuid=True), nullable=True,
                                     comment="the case this one follows up (a dissatisfied return-visit answer)"),
                  schema=SCHEMA)
    op.create_index("ix_cases_follow_up_of", "cases", ["follow_up_of"], schema=SCHEMA,
                    postgresql_where=sa.text("follow_up_of IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_cases_follow_up_of", table_name="cases", schema=SCHEMA)
    for column in ("follow_up_of", "return_visit_required", "return_visit_basis", "return_visit_choice"):
        op.drop_column("cases", column, schema=SCHEMA)
