"""intake: the org unit that registered a customer

A customer belongs to the org unit that registered it (``customers.org_path``, 'G', 'G/S' or
'G/S/P'). Rows kept before this revision do not know who registered them; they are filled in from
what is known: the org unit of the first project they are linked to, else that of their first
feedback (the unit that recorded the first contact). A row with neither stays NULL, and such a
customer without a project is visible only to callers who see every group.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("customers", sa.Column("org_path", sa.Text(), nullable=True), schema=SCHEMA)
    op.create_index("ix_customers_org_path", "customers", ["org_path"], schema=SCHEMA)
    op.execute(
        f"""
        UPDATE {SCHEMA}.customers AS c
           SET org_path = p.org_group || '/' || p.org_subsidiary || '/' || p.org_project
          FROM {SCHEMA}.projects AS p
         WHERE c.org_path IS NULL AND cardinality(c.project_ids) > 0 AND p.project_id = c.project_ids[1]
        """
    )
    op.execute(
        f"""
        UPDATE {SCHEMA}.customers AS c
           SET org_path = first.org_path
          FROM (
                SELECT DISTINCT ON (f.customer_id) f.customer_id,
                       concat_ws('/', f.org_group, f.org_subsidiary, f.org_project) AS org_path
                  FROM {SCHEMA}.feedback AS f
                 WHERE f.customer_id IS NOT NULL
                 ORDER BY f.customer_id, f.received_at, f.id
               ) AS first
         WHERE c.org_path IS NULL AND first.customer_id = c.id
        """
    )


def downgrade() -> None:
    op.drop_index("ix_customers_org_path", table_name="customers", schema=SCHEMA)
    op.drop_column("customers", "org_path", schema=SCHEMA)
