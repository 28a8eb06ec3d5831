"""Each service's schema belongs to its own roles; no service reads another's tables."""

from __future__ import annotations

import asyncpg
import pytest

from shared.settings import Settings, with_credentials

pytestmark = pytest.mark.integration


async def connect_as(settings: Settings, service: str) -> asyncpg.Connection:
    url = with_credentials(settings.db.admin_url or "", f"careloop_{service}", settings.db.password_for(service))
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def test_a_service_role_is_refused_on_another_services_schema(migrated: Settings) -> None:
    intake = await connect_as(migrated, "intake")
    try:
        assert await intake.fetchval("SELECT count(*) FROM feedback") == 0  # its own, via search_path
        assert await intake.fetchval("SELECT count(*) FROM intake.outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="schema routing"):
            await intake.fetch("SELECT * FROM routing.cases")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE TABLE public.sneaky (x int)")
        assert not await intake.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    finally:
        await intake.close()


async def test_every_table_is_owned_by_its_services_owner_role(migrated: Settings) -> None:
    admin = await asyncpg.connect((migrated.db.admin_url or "").replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await admin.fetch(
            "SELECT schemaname, tableowner FROM pg_tables "
            "WHERE schemaname IN ('intake', 'routing', 'survey', 'reporting')"
        )
    finally:
        await admin.close()
    assert {r["schemaname"] for r in rows} == {"intake", "routing", "survey", "reporting"}
    # the migration role owns them; the service's own role only uses them (tests/security/test_db_ownership.py)
    assert all(r["tableowner"] == f"careloop_{r['schemaname']}_owner" for r in rows)
