"""routing: many households, one defect: the shared part a report names and each link's score

- ``repair_reports.shared_part``: the part of the estate the households share that a report names
  (外墙, 屋面, 地下车库, 电梯, 楼道; ``services.routing.repairs.domain.SHARED_PARTS``), if any.
- ``work_order_cases.link_score`` and ``link_explanation``: how a case joined its work order, scored
  0..1, with the reason a person can check (in Chinese). Links made before this revision have none.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("repair_reports", sa.Column("shared_part", sa.Text, nullable=True,
                                              comment="services.routing.repairs.domain.SharedPart key"),
                  schema=SCHEMA)
    op.add_column("work_order_cases", sa.Column("link_score", sa.Float, nullable=True,
                                                comment="0..1, domain.score_link; none when opened"),
                  schema=SCHEMA)
    op.add_column("work_order_cases", sa.Column("link_explanation", sa.Text, nullable=True,
                                                comment="the score's reason, in Chinese"),
                  schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("work_order_cases", "link_explanation", schema=SCHEMA)
    op.drop_column("work_order_cases", "link_score", schema=SCHEMA)
    op.drop_column("repair_reports", "shared_part", schema=SCHEMA)
