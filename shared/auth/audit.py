"""The audit trail: who did what, and when, in each service's own schema, append-only.

Every state change made over HTTP writes one row in the same transaction as the change (the unit
of work adds it just before committing, so a change that rolls back leaves no row and a committed
change always has one). Every read of personal data in clear writes a row too. The table refuses
UPDATE, DELETE and TRUNCATE in the database itself (triggers created by each service's migration),
so not even the service's own role can rewrite history.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.auth.http import Access, current_access
from shared.auth.principal import Principal

AUDIT_TABLE = "audit_log"


def audit_table(metadata: sa.MetaData) -> sa.Table:
    existing = metadata.tables.get(f"{metadata.schema}.{AUDIT_TABLE}" if metadata.schema else AUDIT_TABLE)
    if existing is not None:
        return existing
    return sa.Table(
        AUDIT_TABLE, metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_roles", ARRAY(sa.Text), nullable=False),
        sa.Column("actor_is_client", sa.Boolean, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=True),
        sa.Column("org_path", sa.Text, nullable=True),
        sa.Column("correlation_id", sa.Uuid, nullable=True),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def create_audit_log(schema: str) -> None:
    """For a service's Alembic migration: the table and the triggers that keep it append-only."""
    from alembic import op

    op.create_table(
        AUDIT_TABLE,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_roles", ARRAY(sa.Text), nullable=False),
        sa.Column("actor_is_client", sa.Boolean, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=True),
        sa.Column("org_path", sa.Text, nullable=True),
        sa.Column("correlation_id", sa.Uuid, nullable=True),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=schema,
    )
    op.create_index("ix_audit_log_at", AUDIT_TABLE, ["at"], schema=schema)
    op.create_index("ix_audit_log_actor_at", AUDIT_TABLE, ["actor", "at"], schema=schema)
    op.execute(
        f"CREATE FUNCTION {schema}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER audit_log_no_rewrite BEFORE UPDATE OR DELETE ON {schema}.{AUDIT_TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_is_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {schema}.{AUDIT_TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_log_is_append_only()"
    )


def drop_audit_log(schema: str) -> None:
    from alembic import op

    op.execute(f"DROP TABLE {schema}.{AUDIT_TABLE}")
    op.execute(f"DROP FUNCTION {schema}.audit_log_is_append_only()")


def audit_row(principal: Principal, *, action: str, resource: str | None = None, org_path: str | None = None,
              correlation_id: uuid.UUID | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "actor": principal.subject, "actor_roles": sorted(str(r) for r in principal.roles),
        "actor_is_client": principal.client, "action": action, "resource": resource, "org_path": org_path,
        "correlation_id": correlation_id, "detail": detail or {},
    }


def _change_row(access: Access) -> dict[str, Any]:
    resource = ",".join(f"{k}={v}" for k, v in sorted(access.path_params.items())) or None
    return audit_row(access.principal, action=f"{access.method} {access.route}", resource=resource,
                     correlation_id=access.correlation_id)


def take_change_row() -> dict[str, Any] | None:
    """The current request's audit row for its change, for a transaction that is not the request's
    own (a group commit writes many requests' changes at once): the caller writes it in the
    transaction that makes the change (``AuditedUnitOfWork.record``), and no unit of work adds it
    again. None outside a request that changes state."""
    access = current_access()
    if access is None or not access.changes_state or access.audited:
        return None
    access.audited = True
    return _change_row(access)


class AuditedUnitOfWork:
    """A unit of work that adds the request's audit row to the transaction that commits its change."""

    def __init__(self, inner: Any, table: sa.Table) -> None:
        self._inner = inner
        self._table = table
        self._queued: list[dict[str, Any]] = []

    async def __aenter__(self) -> AuditedUnitOfWork:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._inner.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def record(self, row: dict[str, Any]) -> None:
        """Queue an audit row (e.g. a read of personal data) for this unit of work's commit."""
        self._queued = [*getattr(self, "_queued", []), row]

    async def commit(self) -> None:
        rows = list(self._queued)
        self._queued = []
        access = current_access()
        if access is not None and access.changes_state and not access.audited:
            rows.append(_change_row(access))
            access.audited = True
        if rows:
            await self._inner.session.execute(sa.insert(self._table), rows)
        await self._inner.commit()


class AuditedUnitOfWorkFactory:
    """Wraps a service's unit-of-work factory for its HTTP routes (consumers keep the plain one)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.audit_log = audit_table(inner.metadata)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self) -> AuditedUnitOfWork:
        return AuditedUnitOfWork(self._inner(), self.audit_log)


async def record_personal_data_read(uow_factory: Any, principal: Principal, *, what: str, resources: list[str],
                                    org_path: str | None = None, fields: list[str] | None = None) -> None:
    """One audit row for a response that shows personal data in clear, committed before it is sent."""
    access = current_access()
    plain = uow_factory._inner if isinstance(uow_factory, AuditedUnitOfWorkFactory) else uow_factory
    async with plain() as uow:
        await uow.session.execute(sa.insert(audit_table(plain.metadata)), [audit_row(
            principal, action=f"read {what}", resource=",".join(resources) or None, org_path=org_path,
            correlation_id=access.correlation_id if access else None,
            detail={"fields": fields or [], "route": access.route if access else None},
        )])
        await uow.commit()


__all__ = ["AUDIT_TABLE", "AuditedUnitOfWork", "AuditedUnitOfWorkFactory", "audit_row", "audit_table",
           "create_audit_log", "drop_audit_log", "record_personal_data_read", "take_change_row"]
