"""The committed JSON Schemas (for other enterprise systems) match the models."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest

from shared.events import ALL_EVENT_CLASSES, FeedbackReceived, FeedbackReceivedData, OrgPath, render_schema, schema_path


@pytest.mark.parametrize("cls", ALL_EVENT_CLASSES, ids=lambda c: c.EVENT_TYPE)
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
