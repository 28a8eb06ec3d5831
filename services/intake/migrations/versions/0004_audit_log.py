"""The append-only audit trail of who changed what, and who read personal data (shared/auth/audit.py)."""

from __future__ import annotations

from shared.auth.audit import create_audit_log, drop_audit_log

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    create_audit_log(SCHEMA)


def downgrade() -> None:
    drop_audit_log(SCHEMA)
