"""The foundation's thin path through all four services on the real broker and PostgreSQL.

intake (HTTP) → FeedbackReceived → routing classifies → ComplaintClassified → reporting counts;
survey (HTTP) → SurveyReturned → reporting counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.intake.app import create_app as intake_app
from services.reporting.app import create_app as reporting_app
from services.routing.app import create_app as routing_app
from services.survey.app import create_app as survey_app
from shared.clock import month_of
from shared.events import ComplaintClassified, ComplaintClassifiedData, FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.settings import Settings
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import COMPLAINT_CLASSIFIED, FEEDBACK_RECEIVED

pytestmark = pytest.mark.e2e

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}
PERIOD = month_of(datetime.now(UTC))


@contextlib.asynccontextmanager
async def stack(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as exits:
        clients = {
            "intake": await exits.enter_async_context(running_service(intake_app(settings))),
            "routing": await exits.enter_async_context(running_service(routing_app(settings))),
            "survey": await exits.enter_async_context(running_service(survey_app(settings))),
            "reporting": await exits.enter_async_context(running_service(reporting_app(settings))),
        }
        yield clients


async def complaint_total(reporting: httpx.AsyncClient, org: str = "hx/east/lakeside") -> dict:
    response = await reporting.get("/api/v1/reports/complaint-counts", params={"period": PERIOD, "org": org})
    assert response.status_code == 200, response.text
    return response.json()


async def test_feedback_reaches_the_reporting_count_with_one_correlation_id(migrated: Settings) -> None:
    correlation_id = str(uuid.uuid4())
    async with stack(migrated) as svc:
        for name, client in svc.items():
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, (name, ready.text)
        response = await svc["intake"].post(
            "/api/v1/feedback",
            json={"kind": "complaint", "channel": "phone", "text": "3号楼2单元1201卫生间漏水，天花板渗水",
                  "received_by": "cs-0001", "org": ORG},
            headers={"X-Correlation-ID": correlation_id},
        )
        assert response.status_code == 201, response.text
        assert response.headers["X-Correlation-ID"] == correlation_id
        feedback_id = response.json()["feedback_id"]

        counts = await eventually(lambda: complaint_total(svc["reporting"]), until=lambda c: c["total"] == 1)
        assert counts["by_class"] == {"1": 0, "2": 1, "3": 0}  # a leak is building quality: class 2
        for org in ("hx", "hx/east"):  # rolled up to the subsidiary and the group
            assert (await complaint_total(svc["reporting"], org))["by_class"]["2"] == 1
        assert (await complaint_total(svc["reporting"], "hx/south"))["total"] == 0

        case = (await svc["routing"].get("/api/v1/cases", params={"feedback_id": feedback_id})).json()[0]
        assert case["category"] == "product_quality" and case["lead_department"] == "engineering_quality"
        assert case["first_contact_owner"] == "cs-0001"

    received = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 1)
    classified = await read_topic(migrated, COMPLAINT_CLASSIFIED, until=lambda r: len(r) >= 1)
    [fr], [cc] = (json.loads(r.value) for r in received), (json.loads(r.value) for r in classified)
    assert fr["correlation_id"] == cc["correlation_id"] == correlation_id
    assert cc["causation_id"] == fr["event_id"]
    assert cc["data"]["feedback_id"] == feedback_id


async def test_survey_answers_are_counted(migrated: Settings) -> None:
    async with stack(migrated) as svc:
        response = await svc["survey"].post(
            "/api/v1/survey-responses",
            json={"template_id": "household", "scheme": "B", "org": ORG,
                  "answers": [{"item_id": "q1", "level": "satisfied"}, {"item_id": "q2", "level": None}]},
        )
        assert response.status_code == 201, response.text

        async def survey_total() -> int:
            r = await svc["reporting"].get("/api/v1/reports/survey-counts", params={"period": PERIOD, "org": "hx"})
            return int(r.json()["total"])

        assert await eventually(survey_total, until=lambda n: n == 1) == 1


async def test_bad_http_input_gets_422_naming_each_field(migrated: Settings) -> None:
    async with stack(migrated) as svc:
        intake = svc["intake"]
        malformed = await intake.post("/api/v1/feedback", content=b'{"kind": "complaint",',
                                      headers={"content-type": "application/json"})
        assert malformed.status_code == 422
        assert malformed.json()["fields"][0]["type"] == "json_invalid"

        wrong = await intake.post("/api/v1/feedback", json={"kind": "complaint", "channel": "pigeon", "text": 5,
                                                            "received_by": "cs-1", "org": {"group": "hx"}})
        assert wrong.status_code == 422
        fields = {f["field"] for f in wrong.json()["fields"]}
        assert fields == {"channel", "text"}

        missing = await intake.post("/api/v1/feedback", json={"kind": "complaint", "channel": "phone", "text": "x"})
        assert {f["field"] for f in missing.json()["fields"]} == {"received_by", "org"}

        bad_level = await svc["survey"].post(
            "/api/v1/survey-responses",
            json={"template_id": "t", "scheme": "D", "org": ORG, "answers": [{"item_id": "q1", "level": "great"}]},
        )
        assert bad_level.status_code == 422
        assert bad_level.json()["fields"][0]["field"] == "answers.0.level"


def _feedback_event(text: str, *, org: OrgPath) -> FeedbackReceived:
    now = datetime.now(UTC)
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="system", text=text,
                                received_at=now, received_by="erp")
    return FeedbackReceived.create(data=data, org=org, aggregate_id=data.feedback_id, occurred_at=now,
                                   producer="erp")


async def test_duplicates_count_once_and_poison_goes_to_the_dlq(migrated: Settings) -> None:
    org = OrgPath(**ORG)
    async with stack(migrated) as svc:
        reporting = svc["reporting"]
        event = _feedback_event("外墙裂缝", org=org)
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)  # the same event again
        await publish_raw(migrated, FEEDBACK_RECEIVED, b'{"event_type": "FeedbackReceived", "data": {}}', key=event.key)
        sentinel = _feedback_event("客服态度差", org=org)  # same partition, after the duplicate and the poison
        await publish_raw(migrated, FEEDBACK_RECEIVED, sentinel.to_json(), key=event.key)
        counts = await eventually(lambda: complaint_total(reporting), until=lambda c: c["total"] >= 2)
        assert counts["by_class"] == {"1": 1, "2": 1, "3": 0}

        # The same ComplaintClassified delivered twice is also counted once by reporting.
        now = datetime.now(UTC)
        classified = ComplaintClassified.create(
            data=ComplaintClassifiedData(
                case_id=uuid.uuid4(), feedback_id=uuid.uuid4(), category="external_environment", complaint_class=3,
                valid=False, important=False, confidence=0.9, rules_version="test", lead_department="customer_service",
                received_at=now),
            org=org, aggregate_id=uuid.uuid4(), occurred_at=now, producer="routing")
        for _ in range(2):
            await publish_raw(migrated, COMPLAINT_CLASSIFIED, classified.to_json(), key=classified.key)
        counts = await eventually(lambda: complaint_total(reporting), until=lambda c: c["by_class"]["3"] >= 1)
        await asyncio.sleep(1.0)  # give a wrongly counted duplicate the time to show up
        assert (await complaint_total(reporting))["by_class"] == {"1": 1, "2": 1, "3": 1}

    dead = await read_topic(migrated, f"{FEEDBACK_RECEIVED}.dlq", until=lambda r: len(r) >= 1)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["x-dlq-kind"] == "schema-invalid"
    assert headers["x-dlq-consumer"] == "routing.cases"
    assert "data.feedback_id" in headers["x-dlq-reason"]
