"""Item 4 for names: a staff note or reason on a case that names the case's customer goes out with
the name masked, though routing never holds the name. Intake sends marks of the customer's names
(keyed digests) with FeedbackReceived; routing searches its events' staff text for them.
Before the fix CaseEscalated carried "业主张三丰要求赔偿" as written."""

from __future__ import annotations

import contextlib
import json

import pytest

from services.intake.app import create_app as intake_app
from services.routing.app import create_app as routing_app
from shared.auth import Role
from shared.pii_detect import mask_marked_names, name_marks
from shared.settings import Settings
from shared.testing.auth import bearer
from shared.testing.services import eventually, read_topic, running_service
from shared.topics import CASE_ESCALATED, FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

CUSTOMER_SERVICE = bearer("cs-east-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx/east"])
ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


def test_marks_find_a_name_as_people_write_it_and_nothing_else() -> None:
    marks = name_marks(["张三丰", "Li Lei", "杭州安居物业有限公司"], key="a-key-of-sixteen+")
    assert mask_marked_names("业主张 三丰来电，Li  Lei 也在", marks, key="a-key-of-sixteen+") == "业主[姓名]来电，[姓名] 也在"
    assert mask_marked_names("杭州安居物业有限公司派人", marks, key="a-key-of-sixteen+") == "[姓名]派人"
    # other names, a longer Latin word, and the same marks under another key find nothing
    assert mask_marked_names("张三来电，Olivia Leino", marks, key="a-key-of-sixteen+") == "张三来电，Olivia Leino"
    assert mask_marked_names("张三丰", marks, key="another-key-16chars") == "张三丰"
    assert all("张" not in m and "Li" not in m for m in marks)


async def test_a_note_naming_the_customer_leaves_routing_masked(migrated: Settings) -> None:
    async with contextlib.AsyncExitStack() as exits:
        intake = await exits.enter_async_context(running_service(intake_app(migrated)))
        routing = await exits.enter_async_context(running_service(routing_app(migrated)))
        created = await intake.post("/api/v1/customers", headers=CUSTOMER_SERVICE, json={
            "customer_kind": "owner", "name": "张三丰", "phones": ["+8613800138001"]})
        assert created.status_code == 201, created.text
        taken = await intake.post("/api/v1/feedback", headers=CUSTOMER_SERVICE, json={
            "kind": "complaint", "channel": "phone", "text": "外墙出现裂缝，担心质量问题", "received_by": "cs-east-1",
            "org": ORG, "customer_id": created.json()["customer_id"]})
        assert taken.status_code == 201, taken.text
        [received] = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda rs: len(rs) >= 1)
        assert "张三丰" not in received.value.decode()
        assert json.loads(received.value)["data"]["customer_name_marks"]  # the marks, not the name

        cases = await eventually(lambda: routing.get("/api/v1/cases"), until=lambda r: len(r.json()) == 1)
        case_url = f"/api/v1/cases/{cases.json()[0]['case_id']}"
        escalated = await routing.post(f"{case_url}/escalate", json={
            "actor": "handler-east", "to": "quality", "reason": "业主张 三丰要求赔偿，电话13912345671"})
        assert escalated.status_code == 200, escalated.text
        [event] = await read_topic(migrated, CASE_ESCALATED, until=lambda rs: len(rs) >= 1)
    data = json.loads(event.value)["data"]
    assert data["reason"] == "业主[姓名]要求赔偿，电话[电话]"
