"""Issue 20 item 2, the rows kept before: revision 0006 fills in the org unit of customers
registered before it was recorded (the first project's, else the first feedback's, else NULL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.db.migrate import migrate_service
from shared.settings import Settings

pytestmark = pytest.mark.integration

LINKED, CALLED, BOTH, UNKNOWN = (uuid.uuid4() for _ in range(4))


async def test_customers_kept_before_revision_0006_get_the_org_unit_that_is_known(settings: Settings) -> None:
    await migrate_service(settings, "intake", revision="0005")
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        await conn.execute("""
            INSERT INTO intake.org_units (path, level, name, unit_type, parent_path) VALUES
              ('hx', 'group', '华兴', 'group', NULL), ('hx/east', 'subsidiary', '华东', 'subsidiary', 'hx'),
              ('hx/east/lakeside', 'project', '湖畔', 'property_office', 'hx/east')""")
        await conn.execute("""
            INSERT INTO intake.projects (project_id, org_group, org_subsidiary, org_project, name, stage)
            VALUES ('LS-01', 'hx', 'east', 'lakeside', '湖畔花园', 'construction')""")
        for customer_id, projects in ((LINKED, ["LS-01"]), (CALLED, []), (BOTH, ["LS-01"]), (UNKNOWN, [])):
            await conn.execute("INSERT INTO intake.customers (id, customer_kind, project_ids) VALUES ($1, 'person', $2)",
                               customer_id, projects)

        async def feedback(customer_id: uuid.UUID, day: int, subsidiary: str | None) -> None:
            await conn.execute(
                "INSERT INTO intake.feedback (id, kind, channel, text, received_at, received_by, customer_id,"
                " org_group, org_subsidiary, correlation_id) VALUES ($1, 'inquiry', 'phone', '咨询', $2, 'cs-1', $3,"
                " 'hx', $4, $1)", uuid.uuid4(), datetime(2026, 5, day, tzinfo=UTC), customer_id, subsidiary)

        await feedback(CALLED, 9, "east")
        await feedback(CALLED, 3, "south")  # the first contact: south recorded it
        await feedback(BOTH, 1, "south")  # a project says more than a call
        await migrate_service(settings, "intake", revision="0006")
        rows = dict(await conn.fetch("SELECT id, org_path FROM intake.customers"))
    finally:
        await conn.close()
    assert rows == {LINKED: "hx/east/lakeside", CALLED: "hx/south", BOTH: "hx/east/lakeside", UNKNOWN: None}
