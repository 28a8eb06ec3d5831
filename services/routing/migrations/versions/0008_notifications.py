"""routing: escalation notifications and the quality department's deadline

- ``cases``: when the quality department and the responsible executive were told of a difficult
  complaint (the escalation deadline is met only when both were), and whether the complaint reached
  the group company, a government office or the media (logged by whoever received it).
- ``cases``: a claim for compensation or a return / exchange of the home: its kind, amount and
  who handles it (the developer beyond the company's authority).
- ``deadlines``: the moment its "about to be missed" notice is due (``warn_at``, worked out by the
  notification watcher for the due time in ``warn_for_due``) and when it went out (``warned_at``).
- ``notifications``: one row per message to one person or group chat, claimed with SKIP LOCKED by
  whichever replica sends it, retried with backoff until ``sent_at`` or ``failed_at``.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "routing"

PENDING = "met_at IS NULL AND breached_at IS NULL AND cancelled_at IS NULL"


def upgrade() -> None:
    op.add_column("cases", sa.Column("quality_notified_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("cases", sa.Column("executive_notified_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("cases", sa.Column("escalated_to_body", sa.Text(),
                                     comment="group / government / media: where the complaint also went"),
                  schema=SCHEMA)
    op.add_column("cases", sa.Column("claim_kind", sa.Text(), comment="compensation / return_exchange"), schema=SCHEMA)
    op.add_column("cases", sa.Column("claim_amount_yuan", sa.Numeric(14, 2)), schema=SCHEMA)
    op.add_column("cases", sa.Column("claim_decision", sa.Text(), comment="who handles it, and why"), schema=SCHEMA)
    op.add_column("deadlines", sa.Column("warn_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("deadlines", sa.Column("warn_for_due", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("deadlines", sa.Column("warned_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.create_index("ix_deadlines_warning_unplanned", "deadlines", ["due_at"], schema=SCHEMA,
                    postgresql_where=sa.text(f"(warn_for_due IS NULL OR warn_for_due <> due_at) AND {PENDING}"))
    op.create_index("ix_deadlines_warning_due", "deadlines", ["warn_at"], schema=SCHEMA,
                    postgresql_where=sa.text(f"warned_at IS NULL AND warn_for_due = due_at AND {PENDING}"))
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.cases.id"), nullable=False),
        sa.Column("dedupe_key", sa.Text, nullable=False, unique=True,
                  comment="what, for which case and deadline, to whom, by which channel: queued once"),
        sa.Column("reason", sa.Text, nullable=False, comment="escalation / deadline_warning / deadline_breached"),
        sa.Column("deadline_kind", sa.Text),
        sa.Column("recipient_role", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False, comment="staff id, or the chat group's name"),
        sa.Column("channel", sa.Text, nullable=False, comment="email / wecom / dingtalk"),
        sa.Column("address", sa.Text, nullable=False, comment="staff e-mail address or robot webhook URL"),
        sa.Column("mentions", ARRAY(sa.Text), nullable=False, server_default="{}",
                  comment="staff ids a chat message @-mentions"),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index("ix_notifications_case_id", "notifications", ["case_id"], schema=SCHEMA)
    op.create_index("ix_notifications_due", "notifications", ["next_attempt_at"], schema=SCHEMA,
                    postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"))


def downgrade() -> None:
    op.drop_table("notifications", schema=SCHEMA)
    op.drop_index("ix_deadlines_warning_due", "deadlines", schema=SCHEMA)
    op.drop_index("ix_deadlines_warning_unplanned", "deadlines", schema=SCHEMA)
    for column in ("warned_at", "warn_for_due", "warn_at"):
        op.drop_column("deadlines", column, schema=SCHEMA)
    for column in ("claim_decision", "claim_amount_yuan", "claim_kind", "escalated_to_body", "executive_notified_at",
                   "quality_notified_at"):
        op.drop_column("cases", column, schema=SCHEMA)
