"""Item 8: a service's own role cannot switch off the audit log's no-rewrite trigger, rewrite the
audit log, or change its schema; the tables belong to a migration role that cannot log in."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.migrate import migrate_service
from shared.settings import SERVICES, Settings, with_credentials

pytestmark = pytest.mark.integration

AUDITED = ("intake", "routing", "survey")  # the services with an audit_log table


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def connect_as(settings: Settings, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(_plain(settings.db.service_url(service)))


async def admin(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(_plain(settings.db.admin_url or ""))


@pytest.mark.parametrize("service", AUDITED)
async def test_the_service_role_cannot_disable_rewrite_or_drop_the_audit_log(migrated: Settings, service: str) -> None:
    conn = await connect_as(migrated, service)
    try:
        # what the service needs still works: append and read
        await conn.execute("INSERT INTO audit_log (actor, actor_roles, actor_is_client, action) "
                           "VALUES ('sec-test', '{}', false, 'read')")
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE actor = 'sec-test'") == 1
        for statement in (
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "DROP TABLE audit_log",
            "DROP TRIGGER audit_log_no_rewrite ON audit_log",
            "DROP TABLE outbox",
            "ALTER TABLE outbox ADD COLUMN sneaky int",
            f"CREATE TABLE {service}.sneaky (x int)",
            f"CREATE FUNCTION {service}.sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        assert not await conn.fetchval("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                                       "WHERE rolname = current_user")
    finally:
        await conn.close()


async def test_the_audit_log_grants_only_insert_and_select_and_other_tables_only_dml(migrated: Settings) -> None:
    conn = await admin(migrated)
    try:
        for service in AUDITED:
            role = f"careloop_{service}"
            rights = {p: await conn.fetchval("SELECT has_table_privilege($1, $2, $3)", role,
                                             f"{service}.audit_log", p)
                      for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")}
            assert rights == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False,
                              "TRUNCATE": False, "TRIGGER": False, "REFERENCES": False}
        for service in SERVICES:
            role = f"careloop_{service}"
            outbox = {p: await conn.fetchval("SELECT has_table_privilege($1, $2, $3)", role, f"{service}.outbox", p)
                      for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")}
            assert outbox == {"SELECT": True, "INSERT": True, "UPDATE": True, "DELETE": True,
                              "TRUNCATE": False, "TRIGGER": False}
            assert await conn.fetchval("SELECT has_schema_privilege($1, $2, 'USAGE')", role, service)
            assert not await conn.fetchval("SELECT has_schema_privilege($1, $2, 'CREATE')", role, service)
            # the owner is a role of its own that cannot log in
            owner = f"careloop_{service}_owner"
            assert await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", owner) is False
        rows = await conn.fetch(
            "SELECT n.nspname AS schema, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])", list(SERVICES))
        assert rows and all(r["owner"] == f"careloop_{r['schema']}_owner" for r in rows)
        schemas = await conn.fetch("SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace "
                                   "WHERE nspname = ANY($1::text[])", list(SERVICES))
        assert {r["nspname"]: r["owner"] for r in schemas} == {s: f"careloop_{s}_owner" for s in SERVICES}
    finally:
        await conn.close()


@pytest.mark.parametrize("service", AUDITED)
async def test_even_the_owner_meets_the_no_rewrite_trigger(migrated: Settings, service: str) -> None:
    conn = await admin(migrated)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL ROLE careloop_{service}_owner")
            await conn.execute(f"INSERT INTO {service}.audit_log (actor, actor_roles, actor_is_client, action) "
                               "VALUES ('sec-test', '{}', false, 'read')")
            for statement in (f"UPDATE {service}.audit_log SET actor = 'x'", f"DELETE FROM {service}.audit_log",
                              f"TRUNCATE {service}.audit_log"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    async with conn.transaction():  # a savepoint per attempt
                        await conn.execute(statement)
    finally:
        await conn.close()


async def test_a_database_whose_tables_the_service_role_owns_is_moved_to_the_owner(migrated: Settings) -> None:
    """Yesterday's layout: schema and tables owned by careloop_survey. Migrating again moves them."""
    conn = await admin(migrated)
    try:
        await conn.execute("REASSIGN OWNED BY careloop_survey_owner TO careloop_survey")
        assert await conn.fetchval("SELECT tableowner FROM pg_tables WHERE schemaname = 'survey' "
                                   "AND tablename = 'audit_log'") == "careloop_survey"
    finally:
        await conn.close()
    await migrate_service(migrated, "survey")
    conn = await admin(migrated)
    try:
        owners = {r["tableowner"] for r in await conn.fetch(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'survey'")}
        assert owners == {"careloop_survey_owner"}
    finally:
        await conn.close()
    survey = await connect_as(migrated, "survey")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await survey.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite")
    finally:
        await survey.close()
