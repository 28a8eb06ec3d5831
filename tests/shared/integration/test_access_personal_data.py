"""Personal data on the real stack: phone numbers in clear only for the roles that call or visit
customers, masked for everyone else; each read in clear, and each change, in intake's append-only
audit trail — which not even intake's own database role can rewrite."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.intake.app import create_app as intake_app
from shared.auth import Role
from shared.settings import Settings, with_credentials
from shared.testing.auth import bearer
from shared.testing.services import running_service

pytestmark = pytest.mark.integration

PHONE = "+8613800138000"
EMAIL = "wang.xiaoming@example.com"
CUSTOMER_SERVICE = bearer("cs-east-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx/east"])
SITE_TEAM = bearer("site-east-1", roles=[Role.SITE_TEAM], orgs=["hx/east"])
HANDLER = bearer("handler-east-1", roles=[Role.HANDLER], orgs=["hx/east"])
QUALITY = bearer("quality-1", roles=[Role.QUALITY], orgs=["hx"])
ADMINISTRATOR = bearer("admin-1", roles=[Role.ADMINISTRATOR], orgs=["hx"])
EXECUTIVE = bearer("exec-1", roles=[Role.EXECUTIVE], orgs=["hx"])


async def connect_as_intake(settings: Settings) -> asyncpg.Connection:
    url = with_credentials(settings.db.admin_url or "", "careloop_intake", settings.db.password_for("intake"))
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def test_phones_in_clear_only_for_roles_that_need_them_and_every_such_read_is_audited(
    migrated: Settings,
) -> None:
    async with running_service(intake_app(migrated)) as intake:
        created = await intake.post("/api/v1/customers", headers=CUSTOMER_SERVICE, json={
            "customer_kind": "owner", "name": "王小明", "phones": [PHONE], "emails": [EMAIL]})
        assert created.status_code == 201, created.text
        customer_id = created.json()["customer_id"]
        assert created.json()["phones"] == [PHONE]  # customer service registered it and sees it

        url = f"/api/v1/customers/{customer_id}"
        for who in (CUSTOMER_SERVICE, SITE_TEAM):
            clear = (await intake.get(url, headers=who)).json()
            assert (clear["phones"], clear["emails"], clear["name"]) == ([PHONE], [EMAIL], "王小明")
        for who in (HANDLER, QUALITY, ADMINISTRATOR):
            masked = await intake.get(url, headers=who)
            assert masked.status_code == 200
            body = masked.json()
            assert body["phones"] == ["+86138****8000"] and body["emails"] == ["w***@example.com"]
            assert body["name"] == "王**"
            assert PHONE not in masked.text and "13800138000" not in masked.text
        assert (await intake.get(url, headers=EXECUTIVE)).status_code == 403  # no business with customers

        lookup = await intake.post("/api/v1/customers/lookup", json={"phone": "138 0013 8000"}, headers=HANDLER)
        assert lookup.json()[0]["phones"] == ["+86138****8000"]
        lookup = await intake.post("/api/v1/customers/lookup", json={"phone": "138 0013 8000"}, headers=SITE_TEAM)
        assert lookup.json()[0]["phones"] == [PHONE]

    db = await connect_as_intake(migrated)
    try:
        rows = await db.fetch("SELECT actor, actor_roles, action, resource, detail, at FROM audit_log ORDER BY id")
        reads = [r for r in rows if r["action"] == "read customer contact details"]
        # the registration's answer, two GETs in clear, one lookup in clear; never the masked ones
        assert [(r["actor"], r["resource"]) for r in reads] == [
            ("cs-east-1", customer_id), ("cs-east-1", customer_id), ("site-east-1", customer_id),
            ("site-east-1", customer_id)]
        assert all(r["at"] is not None and "phones" in r["detail"] for r in reads)
        assert not [r for r in rows if r["actor"] in ("handler-east-1", "quality-1", "admin-1", "exec-1")]
        changes = [r for r in rows if r["action"] == "POST /api/v1/customers"]
        assert [(r["actor"], r["actor_roles"]) for r in changes] == [("cs-east-1", ["customer_service"])]
        assert PHONE not in str([dict(r) for r in rows])  # who, what and when; never the data itself

        # append-only: the service's role may only INSERT and SELECT (the table's owner, the
        # migration role, meets the no-rewrite trigger: tests/security/test_db_ownership.py)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await db.execute("UPDATE audit_log SET actor = 'someone-else'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await db.execute("DELETE FROM audit_log")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await db.execute("TRUNCATE audit_log")
        assert await db.fetchval("SELECT count(*) FROM audit_log") == len(rows)
    finally:
        await db.close()


async def test_a_change_and_its_audit_row_commit_together_and_a_refused_change_leaves_none(
    migrated: Settings,
) -> None:
    async with running_service(intake_app(migrated)) as intake:
        submission = {"kind": "complaint", "channel": "phone", "text": "卫生间漏水", "received_by": "cs-east-1",
                      "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}}
        taken = await intake.post("/api/v1/feedback", json=submission, headers=CUSTOMER_SERVICE)
        assert taken.status_code == 201
        elsewhere = {**submission, "org": {"group": "hx", "subsidiary": "south", "project": "hillview"}}
        outside = await intake.post("/api/v1/feedback", json=elsewhere, headers=CUSTOMER_SERVICE)
        assert outside.status_code == 403 and outside.json()["error"] == "out_of_scope"
        invalid = await intake.post("/api/v1/feedback", json={**submission, "kind": "nonsense"},
                                    headers=CUSTOMER_SERVICE)
        assert invalid.status_code == 422
        # and the record itself is invisible outside the org units it belongs to
        south_cs = bearer("cs-south-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx/south"])
        feedback_url = f"/api/v1/feedback/{taken.json()['feedback_id']}"
        assert (await intake.get(feedback_url, headers=south_cs)).status_code == 404
        assert (await intake.get(feedback_url, headers=CUSTOMER_SERVICE)).status_code == 200
    db = await connect_as_intake(migrated)
    try:
        rows = await db.fetch("SELECT actor, action, correlation_id FROM audit_log ORDER BY id")
        assert [(r["actor"], r["action"]) for r in rows] == [("cs-east-1", "POST /api/v1/feedback")]
        assert str(rows[0]["correlation_id"]) == taken.json()["correlation_id"]
    finally:
        await db.close()


async def test_a_customer_of_another_subsidiarys_project_does_not_exist_for_a_subsidiarys_staff(
    migrated: Settings,
) -> None:
    async with running_service(intake_app(migrated)) as intake:
        for unit in ({"path": "hx", "name": "华兴集团"}, {"path": "hx/south", "name": "华南公司"},
                     {"path": "hx/south/hillview", "name": "山景管理处", "unit_type": "property_office"}):
            assert (await intake.post("/api/v1/org-units", json=unit)).status_code == 201
        project = {"project_id": "HV-01", "org": {"group": "hx", "subsidiary": "south", "project": "hillview"},
                   "name": "山景苑", "stage": "property_management", "buildings": ["1"]}
        assert (await intake.post("/api/v1/projects", json=project)).status_code == 201
        created = await intake.post("/api/v1/customers", json={
            "customer_kind": "owner", "name": "李雷", "phones": [PHONE], "project_ids": ["HV-01"]})
        assert created.status_code == 201, created.text
        url = f"/api/v1/customers/{created.json()['customer_id']}"
        south_cs = bearer("cs-south-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx/south"])

        assert (await intake.get(url, headers=CUSTOMER_SERVICE)).status_code == 404  # east
        assert (await intake.post("/api/v1/customers/lookup", json={"phone": PHONE},
                                  headers=CUSTOMER_SERVICE)).json() == []
        change = await intake.put(url, json={"name": "韩梅梅", "phones": [PHONE], "project_ids": ["HV-01"]},
                                  headers=CUSTOMER_SERVICE)
        assert change.status_code == 404
        assert (await intake.get(url, headers=south_cs)).json()["name"] == "李雷"
        # nor can they erase them
        erase = await intake.post(f"{url}/erasure", json={}, headers=CUSTOMER_SERVICE)
        assert erase.status_code == 404
        assert (await intake.get(url, headers=south_cs)).status_code == 200


async def test_a_phone_number_in_a_customers_words_is_masked_for_roles_without_contact_details(
    migrated: Settings,
) -> None:
    async with running_service(intake_app(migrated)) as intake:
        submission = {"kind": "complaint", "channel": "phone", "text": "卫生间漏水，请回电 13800138000",
                      "received_by": "cs-east-1", "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}}
        taken = await intake.post("/api/v1/feedback", json=submission, headers=CUSTOMER_SERVICE)
        url = f"/api/v1/feedback/{taken.json()['feedback_id']}"
        assert (await intake.get(url, headers=HANDLER)).json()["text"] == "卫生间漏水，请回电 [电话]"
        assert (await intake.get(url, headers=CUSTOMER_SERVICE)).json()["text"] == submission["text"]
    db = await connect_as_intake(migrated)
    try:
        reads = await db.fetch("SELECT actor, resource FROM audit_log WHERE action LIKE 'read %'")
        assert [(r["actor"], r["resource"]) for r in reads] == [("cs-east-1", taken.json()["feedback_id"])]
    finally:
        await db.close()
