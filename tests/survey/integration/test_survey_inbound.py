"""Returned forms from other survey tools on ``inbound.survey-answers``: validated like HTTP,
refused ones kept for audit, unknown sources and malformed records dead-lettered."""

from __future__ import annotations

import json
import uuid

import pytest

from services.survey.app import create_app
from shared.events.surveys import InboundSurveyAnswers
from shared.settings import Settings
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from survey_helpers import ORG, FakeClock, events_on, survey_settings

pytestmark = pytest.mark.integration

TOPIC = "inbound.survey-answers"


def submission(source: str, external_id: str, answers: list[dict], template_id: str = "repair-return-visit") -> bytes:
    message = InboundSurveyAnswers.model_validate({
        "source_system": source, "external_id": external_id, "template_id": template_id,
        "org": ORG.model_dump(), "project_id": "lakeside", "answers": answers})
    return message.model_dump_json().encode()


async def test_answers_from_another_tool_count_once_and_bad_ones_are_refused_with_the_reason(
    migrated: Settings,
) -> None:
    good = submission("survey-tool", "wx-1001", [
        {"item_id": "attitude", "level": "satisfied"}, {"item_id": "punctuality", "level": "satisfied"},
        {"item_id": "quality", "level": "very_satisfied"}])
    async with running_service(create_app(survey_settings(migrated), clock=FakeClock())) as client:
        await publish_raw(migrated, TOPIC, good, key=b"wx-1001")
        await publish_raw(migrated, TOPIC, good, key=b"wx-1001")  # a resend
        await publish_raw(migrated, TOPIC, submission("someone-else", "x-1", [{"item_id": "attitude", "level": "satisfied"}]))
        await publish_raw(migrated, TOPIC, submission("survey-tool", "wx-1002", [
            {"item_id": "attitude", "level": "satisfied"}, {"item_id": "quality", "level": "superb"}]))
        await publish_raw(migrated, TOPIC, b'{"source_system": "survey-tool", "answers": [')

        refused = await eventually(lambda: client.get("/api/v1/refused-answers"),
                                   until=lambda r: len(r.json()) >= 1)
        [audit] = refused.json()
        assert (audit["channel"], audit["source_system"], audit["external_id"], audit["reason_code"]) == (
            "inbound", "survey-tool", "wx-1002", "invalid_answers")
        assert {p["field"] for p in audit["problems"]} == {"answers.1.level", "answers"}

        dead = await read_topic(migrated, f"{TOPIC}.dlq", until=lambda r: len(r) >= 3)
        kinds = sorted(dict((k, v.decode()) for k, v in r.headers)["x-dlq-kind"] for r in dead)
        assert kinds == ["answers-refused", "rejected-source", "schema-invalid"]
        refusal = next(dict((k, v.decode()) for k, v in r.headers) for r in dead
                       if dict(r.headers)["x-dlq-kind"] == b"answers-refused")
        assert "required item 'punctuality' is not answered" in refusal["x-dlq-reason"]

        returned = await events_on(migrated, "SurveyReturned", until=lambda e: len(e) >= 1)
        assert [(e["data"]["channel"], e["data"]["template_id"]) for e in returned] == [
            ("inbound", "repair-return-visit")]
        response = (await client.get(f"/api/v1/survey-responses/{returned[0]['data']['response_id']}")).json()
        assert response["score"] == 100.0 and response["project_id"] == "lakeside"
    assert json.loads(good)["external_id"] == "wx-1001" and uuid.UUID(returned[0]["data"]["response_id"])
