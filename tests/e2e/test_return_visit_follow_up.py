"""A return visit the quality department chose, and the follow-up its dissatisfied answer opens,
through every service on the real broker and PostgreSQL:

intake (HTTP, received by cs-0007) → routing opens the case; quality decides a return visit →
the customer accepts the result → routing's ReturnVisitDecided → survey issues the visit → a
dissatisfied answer entered by phone → inbound.feedback (naming the case) → intake →
feedback.received → routing opens the follow-up case, owned by cs-0007 (首问负责制), linked to the
original → reporting's scorecard counts both cases for cs-0007.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually

from stack import whole_stack

pytestmark = pytest.mark.e2e

CN = ZoneInfo("Asia/Shanghai")
LAKESIDE = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


async def test_a_chosen_return_visits_dissatisfied_answer_opens_a_follow_up_kept_by_the_first_contact_owner(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with whole_stack(migrated, clock) as svc:
        intake, routing, survey, reporting = svc["intake"], svc["routing"], svc["survey"], svc["reporting"]
        received = await intake.post("/api/v1/feedback", json={
            "kind": "complaint", "channel": "phone", "text": "客服人员态度恶劣，电话里推诿不管", "received_by": "cs-0007",
            "org": LAKESIDE, "project_id": "lakeside"})
        assert received.status_code == 201, received.text

        async def cases() -> list[dict]:
            return (await routing.get("/api/v1/cases")).json()

        [original] = await eventually(cases, until=lambda c: len(c) == 1 and c[0]["state"] == "assigned")
        case_id = original["case_id"]
        assert (original["important"], original["first_contact_owner"]) == (False, "cs-0007")

        async def step(path: str, **body: object) -> dict:
            response = await routing.post(f"/api/v1/cases/{case_id}/{path}", json={"actor": "h-1", **body})
            assert response.status_code in (200, 201), (path, response.text)
            return response.json()

        await step("return-visit-decision", actor="q-1", return_visit=True, reason="客户情绪激动，需回访确认")
        for path, body in [("acknowledge", {}), ("resolve", {"note": "客服主管致歉并调整接听安排"}),
                           ("deliver-result", {}), ("customer-acceptance", {"accepted": True})]:
            await step(path, **body)
        await step("corrective-action-waiver", actor="q-1", reason="个别人员行为，已当面纠正")
        refused = await routing.post(f"/api/v1/cases/{case_id}/close", json={"actor": "h-1"})
        assert refused.status_code == 409 and refused.json()["reason"] == "该案件已决定回访，须回访后方可关闭"

        async def invitations() -> list[dict]:
            return (await survey.get("/api/v1/invitations", params={"case_id": case_id})).json()

        [invitation] = await eventually(invitations, until=lambda rows: len(rows) == 1)
        assert invitation["purpose"] == "complaint_return_visit"
        entered = await survey.post("/api/v1/survey-responses", json={
            "invitation_id": invitation["invitation_id"], "channel": "phone", "answers": [
                {"item_id": "result", "level": "dissatisfied", "remark": "客服态度仍然不好"},
                {"item_id": "timeliness", "level": "satisfied"}]})
        assert entered.status_code == 201, entered.text
        assert len(entered.json()["feedback_sent"]) == 1  # the one dissatisfied item

        everything = await eventually(cases, until=lambda c: len(c) == 2 and all(x["state"] != "received" for x in c))
        [follow_up] = [c for c in everything if c["case_id"] != case_id]
        assert (follow_up["follow_up_of"], follow_up["first_contact_owner"]) == (case_id, "cs-0007")
        assert follow_up["kind"] == "complaint"
        # intake keeps who passed it on; the case's owner is the original one's
        feedback = (await intake.get(f"/api/v1/feedback/{follow_up['feedback_id']}")).json()
        assert feedback["received_by"] == "system:careloop-survey"

        async def state() -> str:
            return (await routing.get(f"/api/v1/cases/{case_id}")).json()["state"]

        await eventually(state, until=lambda s: s == "return_visited")
        closed = await routing.post(f"/api/v1/cases/{case_id}/close", json={"actor": "h-1"})
        assert closed.status_code == 200 and closed.json()["state"] == "closed"

        async def scorecards() -> dict:
            response = await reporting.get("/api/v1/reports/customer-managers", params={"period": "2026-06", "org": "hx"})
            assert response.status_code == 200, response.text
            return {m["owner"]: m for m in response.json()["managers"]}

        cards = await eventually(scorecards, until=lambda c: c.get("cs-0007", {}).get("cases") == 2
                                 and c["cs-0007"]["return_visits_done"] == 1 and c["cs-0007"]["closed"] == 1)
    assert set(cards) == {"cs-0007"}  # nothing counted for the survey system
    assert (cards["cs-0007"]["complaints"], cards["cs-0007"]["closed"]) == (2, 1)
