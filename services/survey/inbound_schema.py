"""The JSON Schema other survey tools build against (``inbound.survey-answers``).

``careloop schemas`` covers our own events only, so this one is written by
``python -m services.survey.inbound_schema``; a unit test fails when it drifts from the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.events import SCHEMA_DIR
from shared.events.surveys import InboundSurveyAnswers

SCHEMA_PATH: Path = SCHEMA_DIR / "InboundSurveyAnswers.v1.json"


def render() -> str:
    schema = InboundSurveyAnswers.model_json_schema(mode="validation")
    schema["$id"] = "urn:careloop:inbound:SurveyAnswers:v1"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(SCHEMA_PATH)
