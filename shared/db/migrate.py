"""Provision each service's PostgreSQL role and schema, then run its Alembic migrations.

With an administrative URL (``CARELOOP_DB_ADMIN_URL``) the role ``careloop_<service>`` and the
schema ``<service>`` (owned by that role, closed to everyone else) are created first, and the
migrations run as that role so it owns every table. Without one, the migrations run with the
service's own URL against a schema that an administrator has provisioned.
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


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def provision(conn: AsyncConnection, *, schema: str, role: str, password: str) -> None:
    await conn.execute(
        sa.text(
            "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            f"{_quote_literal(role)}) THEN CREATE ROLE {role} LOGIN; END IF; END$$"
        )
    )
    await conn.execute(
        sa.text(
            f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"PASSWORD {_quote_literal(password)}"
        )
    )
    await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}"))
    await conn.execute(sa.text(f"ALTER SCHEMA {schema} OWNER TO {role}"))
    await conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
    await conn.execute(sa.text(f"ALTER ROLE {role} SET search_path = {schema}"))
    # Nobody but an owner creates objects in public (the default since PostgreSQL 15).
    await conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


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
    schema, role = service, role_name(service)
    cfg = _alembic_config(service)
    admin_url = settings.db.admin_url
    url = to_asyncpg_url(admin_url) if admin_url else settings.db.service_url(service)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            # Replicas starting together migrate one after another.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"careloop:{schema}"})
            if admin_url:
                await provision(
                    conn, schema=schema, role=role, password=settings.db.role_password.get_secret_value()
                )
                await conn.execute(sa.text(f"SET LOCAL ROLE {role}"))
            await conn.execute(sa.text(f"SET LOCAL search_path = {schema}"))
            await conn.run_sync(_upgrade, cfg, revision)
    finally:
        await engine.dispose()
