"""The committed JSON Schema of ``inbound.survey-answers`` matches the model other tools send."""

from __future__ import annotations

import json

import jsonschema
import pytest

from services.survey.inbound_schema import SCHEMA_PATH, render


def test_committed_inbound_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "run `python -m services.survey.inbound_schema` and commit the result")


def test_a_submission_validates_and_a_broken_one_does_not() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    message = {"source_system": "survey-tool", "external_id": "wx-1", "template_id": "repair-return-visit",
               "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"},
               "answers": [{"item_id": "attitude", "level": "satisfied"}]}
    jsonschema.validate(message, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**message, "answers": []}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**message, "colour": "blue"}, schema)
