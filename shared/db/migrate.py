"""Provision each service's PostgreSQL roles and schema, run its Alembic migrations, grant its rights.

Two roles per service. ``careloop_<service>_owner`` (NOLOGIN) owns the schema ``<service>`` and
every table, sequence and function in it: only the migration step acts as it. ``careloop_<service>``
is the login the service runs with, and gets no more than it needs: USAGE on its schema,
SELECT/INSERT/UPDATE/DELETE on its tables, USAGE/SELECT on its sequences, and on the audit log only
INSERT and SELECT. It cannot create, alter or drop anything, nor switch off the audit log's
no-rewrite trigger (that takes the table's owner). Each role has its own password
(``DatabaseSettings.password_for``).

With an administrative URL (``CARELOOP_DB_ADMIN_URL``) the roles and schema are created first,
whatever the service role owns in the database (the layout before owner roles) is handed to the
owner role, the migrations run as the owner and the grants are applied, all in one transaction
(idempotent; run on every start). Without one, the migrations run with the service's own URL: an
administrator must then have provisioned the schema and made that login able to migrate it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from shared.settings import Settings, role_name, to_asyncpg_url

#: Tables the service may append to and read, never rewrite (a trigger refuses that too).
APPEND_ONLY_TABLES = ("audit_log",)
#: Alembic's record of the schema's revision: the service may read it, only migrations write it.
READ_ONLY_TABLES = ("alembic_version",)


def owner_role_name(service: str) -> str:
    return f"{role_name(service)}_owner"


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _ensure_role(conn: AsyncConnection, role: str, attributes: str) -> None:
    await conn.execute(
        sa.text(
            "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            f"{_quote_literal(role)}) THEN CREATE ROLE {role} NOLOGIN; END IF; END$$"
        )
    )
    await conn.execute(sa.text(f"ALTER ROLE {role} WITH {attributes}"))


async def provision(conn: AsyncConnection, *, schema: str, role: str, password: str, owner: str | None = None) -> None:
    owner = owner or f"{role}_owner"
    fixed = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    await _ensure_role(conn, owner, f"NOLOGIN {fixed}")
    await _ensure_role(conn, role, f"LOGIN {fixed} PASSWORD {_quote_literal(password)}")
    if not (await conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))).scalar():
        # A managed server's admin is no superuser: it needs both roles to hand objects over
        # (REASSIGN OWNED) and to act as the owner (SET ROLE).
        await conn.execute(sa.text(f"GRANT {owner}, {role} TO CURRENT_USER"))
    await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner}"))
    # What the service role owns here (its schema and tables, before owner roles) goes to the owner.
    await conn.execute(sa.text(f"REASSIGN OWNED BY {role} TO {owner}"))
    await conn.execute(sa.text(f"ALTER SCHEMA {schema} OWNER TO {owner}"))
    await conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
    await conn.execute(sa.text(f"ALTER ROLE {role} SET search_path = {schema}"))
    # Nobody but an owner creates objects in public (the default since PostgreSQL 15).
    await conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


async def grant_service_rights(conn: AsyncConnection, *, schema: str, role: str) -> None:
    """The service role's rights on everything in ``schema``, exactly (run as the owner or an admin)."""
    await conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM {role}"))
    await conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
    await conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}"))
    await conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"))
    await conn.execute(sa.text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}"))
    await conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"))
    present = set((await conn.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
    )).scalars())
    for table in APPEND_ONLY_TABLES:
        if table in present:
            await conn.execute(sa.text(f"REVOKE UPDATE, DELETE ON {schema}.{table} FROM {role}"))
    for table in READ_ONLY_TABLES:
        if table in present:
            await conn.execute(sa.text(f"REVOKE INSERT, UPDATE, DELETE ON {schema}.{table} FROM {role}"))


def migrations_dir(service: str) -> Path:
    module = importlib.import_module(f"services.{service}")
    return Path(module.__file__).parent / "migrations"  # type: ignore[arg-type]


def _alembic_config(service: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    return cfg


def _upgrade(sync_conn: sa.Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


async def migrate_service(settings: Settings, service: str, *, revision: str = "head") -> None:
    schema, role, owner = service, role_name(service), owner_role_name(service)
    cfg = _alembic_config(service)
    admin_url = settings.db.admin_url
    if admin_url and settings.environment == "production" and settings.db.uses_dev_password(service):
        raise RuntimeError(
            f"set CARELOOP_DB_{service.upper()}_PASSWORD (or CARELOOP_DB_ROLE_PASSWORD): the built-in "
            "development password is refused in production"
        )
    url = to_asyncpg_url(admin_url) if admin_url else settings.db.service_url(service)
    engine = create_async_engine(url, poolclass=NullPool, connect_args=settings.db.connect_args())
    try:
        async with engine.begin() as conn:
            # Replicas starting together migrate one after another.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"careloop:{schema}"})
            if admin_url:
                await provision(conn, schema=schema, role=role, owner=owner,
                                password=settings.db.password_for(service))
                await conn.execute(sa.text(f"SET LOCAL ROLE {owner}"))
            await conn.execute(sa.text(f"SET LOCAL search_path = {schema}"))
            await conn.run_sync(_upgrade, cfg, revision)
            if admin_url:
                await grant_service_rights(conn, schema=schema, role=role)
    finally:
        await engine.dispose()
