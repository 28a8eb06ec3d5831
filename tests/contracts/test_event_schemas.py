"""The committed JSON Schemas (for other enterprise systems) match the models: our events, and
the messages other systems send on the inbound topics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest

from shared.events import (
    INBOUND_MESSAGES,
    SCHEMA_MODELS,
    FeedbackReceived,
    FeedbackReceivedData,
    OrgPath,
    render_schema,
    schema_path,
    stale_schemas,
)
from shared.events.inbound import InboundFeedback
from shared.events.surveys import InboundSurveyAnswers
from shared.topics import INBOUND_TOPICS


@pytest.mark.parametrize("cls", SCHEMA_MODELS, ids=lambda c: getattr(c, "EVENT_TYPE", c.__name__))
def test_committed_schema_matches_the_model(cls: type) -> None:
    path = schema_path(cls)
    assert path.exists(), f"{path.name} is missing: run `careloop schemas`"
    assert path.read_text(encoding="utf-8") == render_schema(cls), (
        f"{path.name} drifted from {cls.__name__}: run `careloop schemas` and commit the result"
    )


def test_a_produced_event_validates_against_its_committed_schema() -> None:
    now = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="inquiry", channel="web", text="交房时间?",
                                received_at=now, received_by="cs-1")
    event = FeedbackReceived.create(data=data, org=OrgPath(group="hx"), aggregate_id=data.feedback_id,
                                    occurred_at=now, producer="intake")
    schema = json.loads(schema_path(FeedbackReceived).read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(event.to_json()), schema)
    broken = json.loads(event.to_json())
    broken["data"]["channel"] = "carrier pigeon"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_inbound_topic_has_its_message_schema() -> None:
    assert set(INBOUND_MESSAGES) == set(INBOUND_TOPICS)
    assert {schema_path(cls).name for cls in INBOUND_MESSAGES.values()} == {
        "InboundFeedback.v1.json", "InboundSurveyAnswers.v1.json"}
    assert stale_schemas() == []


def _inbound_schema(cls: type) -> dict[str, object]:
    return json.loads(schema_path(cls).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_an_inbound_feedback_validates_and_broken_ones_do_not() -> None:
    schema = _inbound_schema(InboundFeedback)
    message = {"message_type": "FeedbackSubmission", "schema_version": 1, "source_system": "callcentre",
               "external_id": "cc-1", "kind": "complaint", "channel": "phone", "text": "卫生间吊顶渗水",
               "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}, "unit": "3-2-1201",
               "received_at": "2026-05-29T09:55:00+08:00"}
    jsonschema.validate(message, schema)
    InboundFeedback.model_validate(message)  # what the schema accepts, intake accepts
    for broken in ({k: v for k, v in message.items() if k != "external_id"},  # the idempotency key is required
                   {**message, "channel": "carrier pigeon"}, {**message, "text": ""},
                   {**message, "schema_version": 2}, {**message, "colour": "blue"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_an_inbound_survey_form_validates_and_broken_ones_do_not() -> None:
    schema = _inbound_schema(InboundSurveyAnswers)
    message = {"source_system": "survey-tool", "external_id": "wx-1", "template_id": "repair-return-visit",
               "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"},
               "answers": [{"item_id": "attitude", "level": "satisfied"}]}
    jsonschema.validate(message, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**message, "answers": []}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**message, "colour": "blue"}, schema)
