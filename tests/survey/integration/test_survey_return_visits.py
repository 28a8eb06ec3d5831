"""Return visits on the real broker and PostgreSQL: routing's events in, one-time invitations,
answers with the case id, and dissatisfied answers fed back to intake."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from services.survey.app import create_app
from shared.events import ComplaintClassified, ComplaintClassifiedData, RepairAccepted, RepairAcceptedData
from shared.events.cases import (
    CaseTransitioned,
    CaseTransitionedData,
    ComplaintReclassified,
    ComplaintReclassifiedData,
    ReturnVisitDecided,
    ReturnVisitDecidedData,
)
from shared.events.inbound import InboundFeedback
from shared.settings import Settings
from shared.testing.services import eventually, read_topic, running_service
from shared.topics import INBOUND_FEEDBACK
from survey_helpers import ORG, FakeClock, events_on, publish, survey_settings

pytestmark = pytest.mark.integration


def classified(case_id: uuid.UUID, *, important: bool, reclassified: bool = False) -> ComplaintClassified:
    now = datetime.now(UTC)
    fields = dict(case_id=case_id, feedback_id=uuid.uuid4(), category="service_attitude", complaint_class=1,
                  valid=True, important=important, confidence=0.9, rules_version="test",
                  lead_department="customer_service", received_at=now)
    if reclassified:
        return ComplaintReclassified.create(  # type: ignore[return-value]
            data=ComplaintReclassifiedData(**fields, previous_category="service_attitude", previous_class=1,
                                           reason="客户多次投诉，升级为重要投诉", classified_by="qd-1"),
            org=ORG, aggregate_id=case_id, occurred_at=now, producer="routing")
    return ComplaintClassified.create(data=ComplaintClassifiedData(**fields), org=ORG, aggregate_id=case_id,
                                      occurred_at=now, producer="routing")


def result_accepted(case_id: uuid.UUID, correlation_id: uuid.UUID | None = None) -> CaseTransitioned:
    now = datetime.now(UTC)
    return CaseTransitioned.create(
        data=CaseTransitionedData(case_id=case_id, previous_state="result_delivered", state="accepted", actor="h-1",
                                  at=now, action="accept_result", accepted=True),
        org=ORG, aggregate_id=case_id, occurred_at=now, producer="routing", correlation_id=correlation_id)


def return_visit_decided(case_id: uuid.UUID, *, return_visit: bool, result_accepted: bool,
                         basis: str = "quality_department") -> ReturnVisitDecided:
    now = datetime.now(UTC)
    return ReturnVisitDecided.create(
        data=ReturnVisitDecidedData(case_id=case_id, return_visit=return_visit, basis=basis, rule="important_only",
                                    result_accepted=result_accepted, actor="q-1" if not result_accepted else "system",
                                    at=now),
        org=ORG, aggregate_id=case_id, occurred_at=now, producer="routing")


async def invitations_of(client: httpx.AsyncClient, **params: str) -> list[dict]:
    response = await client.get("/api/v1/invitations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_accepted_important_complaint_gets_one_return_visit_and_its_answers_flow_on(
    migrated: Settings,
) -> None:
    case_id = uuid.uuid4()
    important = classified(case_id, important=True)
    accepted = result_accepted(case_id, important.correlation_id)  # one case, one correlation id
    async with running_service(create_app(survey_settings(migrated),
                                          clock=FakeClock())) as client:
        for _ in range(2):  # both events delivered twice
            await publish(migrated, important, accepted)
        await eventually(lambda: invitations_of(client, case_id=str(case_id)), until=lambda rows: len(rows) >= 1)
        await asyncio.sleep(1.0)  # a doubled invitation would show up by now
        [invitation] = await invitations_of(client, case_id=str(case_id))
        assert invitation["purpose"] == "complaint_return_visit"
        assert invitation["template_id"] == "complaint-return-visit"
        issued = await events_on(migrated, "SurveyInvitationIssued", until=lambda e: len(e) >= 1)
        assert len(issued) == 1 and issued[0]["data"]["case_id"] == str(case_id)
        assert "link" not in issued[0]["data"]  # the delivery channel fetches it (issue 20)
        link = (await client.get(f"/api/v1/invitations/{invitation['invitation_id']}/link")).json()["link"]
        token = link.rsplit("/s/", 1)[1]
        assert len(token) >= 43 and token not in json.dumps(invitation)

        page = await client.get(f"/s/{token}")
        assert page.status_code == 200 and "投诉处理回访" in page.text and page.headers["cache-control"] == "no-store"
        answered = await client.post(f"/s/{token}", data={"item.result": "dissatisfied", "item.timeliness": "satisfied",
                                                          "item.attitude": "", "remark": "漏水没有彻底解决"})
        assert answered.status_code == 200 and 'id="thanks"' in answered.text

        [returned] = await events_on(migrated, "SurveyReturned", until=lambda e: len(e) >= 1)
        assert returned["data"]["case_id"] == str(case_id) and returned["data"]["template_version"] == 1
        assert returned["data"]["satisfied"] is False  # 1 of 2 answered items satisfied: 50 %
        response_id = returned["data"]["response_id"]
        [record] = await read_topic(migrated, INBOUND_FEEDBACK, until=lambda r: len(r) >= 1)
        feedback = InboundFeedback.model_validate_json(record.value)  # what intake will validate
        assert (feedback.source_system, feedback.external_id) == ("careloop-survey", f"{response_id}:result")
        assert (feedback.kind, feedback.channel, feedback.org) == ("complaint", "return_visit", ORG)
        assert "漏水没有彻底解决" in feedback.text and feedback.correlation_id == accepted.correlation_id
        # the follow-up names the case: routing keeps that case's first-contact owner for it
        assert feedback.follow_up_of == case_id

        again = await client.post(f"/s/{token}", data={"item.result": "satisfied", "item.timeliness": "satisfied"})
        assert again.status_code == 410 and 'data-reason="token_used"' in again.text
        refused = (await client.get("/api/v1/refused-answers")).json()
        assert [(r["reason_code"], r["invitation_id"]) for r in refused] == [("token_used", invitation["invitation_id"])]
        unknown = await client.get("/s/" + "x" * 43)
        assert unknown.status_code == 404


async def test_a_repair_visits_each_case_and_a_late_importance_still_gets_its_visit(migrated: Settings) -> None:
    now = datetime.now(UTC)
    case_ids = (uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    repair = RepairAccepted.create(
        data=RepairAcceptedData(work_order_id=uuid.uuid4(), project_id="lakeside", case_ids=case_ids,
                                defect_kind="leak", in_warranty=True, requested_at=now, accepted_at=now,
                                owner_signature_ref="sig-owner", contractor_signature_ref="sig-contractor"),
        org=ORG, aggregate_id=uuid.uuid4(), occurred_at=now, producer="routing")
    ordinary = uuid.uuid4()
    async with running_service(create_app(survey_settings(migrated),
                                          clock=FakeClock())) as client:
        await publish(migrated, repair, repair, result_accepted(ordinary), classified(ordinary, important=False))

        async def repair_visits() -> list[dict]:
            return [i for i in await invitations_of(client) if i["purpose"] == "repair_return_visit"]

        visits = await eventually(repair_visits, until=lambda rows: len(rows) >= 3)
        assert sorted(v["case_id"] for v in visits) == sorted(map(str, case_ids))
        assert {v["template_id"] for v in visits} == {"repair-return-visit"}
        template = (await client.get("/api/v1/templates/repair-return-visit")).json()
        assert [i["item_id"] for i in template["items"]] == ["attitude", "punctuality", "quality"]

        # Not important and nothing decided by routing: no visit (nothing is drawn at random) ...
        known = await eventually(lambda: client.get(f"/api/v1/cases/{ordinary}/return-visit"),
                                 until=lambda r: r.status_code == 200 and r.json()["result_accepted"])
        assert known.json()["decision"] is None and known.json()["invitation"] is None
        # ... until routing reclassifies it as important.
        await publish(migrated, classified(ordinary, important=True, reclassified=True))
        visit = await eventually(lambda: client.get(f"/api/v1/cases/{ordinary}/return-visit"),
                                 until=lambda r: r.json()["invitation"] is not None)
        assert visit.json()["decision"] == "important"

        # The quality department's choice reaches survey as routing's decision: a "yes" before the
        # result is accepted waits; routing's decision at the acceptance issues the visit; a "no"
        # issues nothing.
        chosen, declined = uuid.uuid4(), uuid.uuid4()
        await publish(migrated, classified(chosen, important=False), classified(declined, important=False),
                      return_visit_decided(chosen, return_visit=True, result_accepted=False),
                      return_visit_decided(declined, return_visit=False, result_accepted=True, basis="none"))
        waiting = await eventually(lambda: client.get(f"/api/v1/cases/{declined}/return-visit"),
                                   until=lambda r: r.status_code == 200 and r.json()["decision"] == "none")
        assert waiting.json()["invitation"] is None
        assert (await client.get(f"/api/v1/cases/{chosen}/return-visit")).json()["invitation"] is None
        await publish(migrated, return_visit_decided(chosen, return_visit=True, result_accepted=True))
        chosen_visit = await eventually(lambda: client.get(f"/api/v1/cases/{chosen}/return-visit"),
                                        until=lambda r: r.json()["invitation"] is not None)
        assert chosen_visit.json()["decision"] == "decided"
        assert chosen_visit.json()["invitation"]["purpose"] == "complaint_return_visit"

        # A return visit done by phone: staff enter it against the invitation.
        first = visits[0]
        entered = await client.post("/api/v1/survey-responses", json={
            "invitation_id": first["invitation_id"], "channel": "phone", "answers": [
                {"item_id": "attitude", "level": "very_satisfied"}, {"item_id": "punctuality", "level": "satisfied"},
                {"item_id": "quality", "level": "basically_satisfied"}]})
        assert entered.status_code == 201, entered.text
        assert entered.json()["score"] == 100.0 and entered.json()["feedback_sent"] == []
        twice = await client.post("/api/v1/survey-responses", json={
            "invitation_id": first["invitation_id"], "channel": "phone",
            "answers": [{"item_id": "attitude", "level": "satisfied"}]})
        assert twice.status_code == 409 and twice.json()["error"] == "token_used"
        returned = await events_on(migrated, "SurveyReturned", until=lambda e: len(e) >= 1)
        assert [(e["data"]["case_id"], e["data"]["channel"]) for e in returned] == [(first["case_id"], "phone")]
    issued = await events_on(migrated, "SurveyInvitationIssued", until=lambda e: len(e) >= 5)
    assert len(issued) == 5  # three repairs, the late important one, the one routing decided for
