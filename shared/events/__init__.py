"""Integration events: envelope, catalog, decoding with upcasting, committed JSON Schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.events.catalog import (
    EVENT_CLASSES,
    ComplaintClassified,
    ComplaintClassifiedData,
    FeedbackReceived,
    FeedbackReceivedData,
    ItemAnswer,
    RepairAccepted,
    RepairAcceptedData,
    SurveyReturned,
    SurveyReturnedData,
)
from shared.events.envelope import Event, OrgPath
from shared.events.upcasting import upcast

SCHEMA_DIR = Path(__file__).parent / "schemas"

from shared.events.cases import CASE_EVENT_CLASSES  # noqa: E402  (needs catalog first)
from shared.events.repairs import REPAIR_EVENT_CLASSES  # noqa: E402
from shared.events.reports import REPORT_EVENT_CLASSES  # noqa: E402
from shared.events.calendar import CALENDAR_EVENT_CLASSES  # noqa: E402
from shared.events.inbound import InboundFeedback  # noqa: E402
from shared.events.surveys import SURVEY_EVENT_CLASSES, InboundSurveyAnswers  # noqa: E402
from shared.topics import INBOUND_FEEDBACK, INBOUND_SURVEY_ANSWERS  # noqa: E402

ALL_EVENT_CLASSES: tuple[type[Event], ...] = (
    EVENT_CLASSES + CASE_EVENT_CLASSES + REPAIR_EVENT_CLASSES + SURVEY_EVENT_CLASSES + REPORT_EVENT_CLASSES
    + CALENDAR_EVENT_CLASSES
)
EVENT_REGISTRY: dict[str, type[Event]] = {cls.EVENT_TYPE: cls for cls in ALL_EVENT_CLASSES}


class UndecodableEvent(ValueError):
    """A record that is not a valid event: bad JSON, unknown type, or failed schema validation."""


@cache
def _current_events() -> TypeAdapter[Any]:
    """Every event type at its current schema version, told apart by ``event_type``."""
    return TypeAdapter(Annotated[Union[ALL_EVENT_CLASSES], Field(discriminator="event_type")])  # noqa: UP007


def decode_event(value: bytes | str | dict[str, Any]) -> Event:
    """Parse, upcast and validate one event. Raises :class:`UndecodableEvent` with the reason."""
    if isinstance(value, dict):
        raw = value
    else:
        # The common case, an event of a known type at its current version, straight from JSON
        # (about three times faster); anything else (an older version to upcast, an unknown type,
        # an invalid event) takes the path below, which upcasts or says what is wrong.
        try:
            return _current_events().validate_json(value)  # type: ignore[no-any-return]
        except ValidationError:
            pass
        try:
            raw = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UndecodableEvent(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise UndecodableEvent("an event must be a JSON object")
    event_type = raw.get("event_type")
    cls = EVENT_REGISTRY.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise UndecodableEvent(f"unknown event_type {event_type!r}")
    try:
        raw = upcast(raw, target_version=cls.SCHEMA_VERSION)
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise UndecodableEvent(validation_reason(exc)) from exc
    except ValueError as exc:
        raise UndecodableEvent(str(exc)) from exc


def validation_reason(exc: ValidationError) -> str:
    """Field paths and messages, never the offending values (they may be personal data)."""
    parts = []
    for error in exc.errors()[:10]:
        location = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def json_schema(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = f"urn:careloop:event:{cls.EVENT_TYPE}:v{cls.SCHEMA_VERSION}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_path(cls: type[Event] | type[BaseModel]) -> Path:
    """Where the committed JSON Schema of an event, or of an inbound message, lives."""
    if cls in INBOUND_MESSAGES.values():
        return SCHEMA_DIR / f"{cls.__name__}.v{_inbound_version(cls)}.json"
    assert issubclass(cls, Event)
    return SCHEMA_DIR / f"{cls.EVENT_TYPE}.v{cls.SCHEMA_VERSION}.json"


def render_schema(cls: type[Event] | type[BaseModel]) -> str:
    if cls in INBOUND_MESSAGES.values():
        schema = cls.model_json_schema(mode="validation")
        message_type = cls.model_fields["message_type"].default
        schema["$id"] = f"urn:careloop:inbound:{message_type}:v{_inbound_version(cls)}"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    else:
        assert issubclass(cls, Event)
        schema = json_schema(cls)
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _inbound_version(cls: type[BaseModel]) -> int:
    return int(cls.model_fields["schema_version"].default)


#: What other enterprise systems send on the inbound topics (requests, not our facts), by topic:
#: their JSON Schemas are committed beside our events' (``careloop schemas``), for them to build against.
INBOUND_MESSAGES: dict[str, type[BaseModel]] = {
    INBOUND_FEEDBACK: InboundFeedback,
    INBOUND_SURVEY_ANSWERS: InboundSurveyAnswers,
}
#: Every model whose JSON Schema is committed: our events, then the inbound messages.
SCHEMA_MODELS: tuple[type[BaseModel], ...] = (*ALL_EVENT_CLASSES, *INBOUND_MESSAGES.values())


def stale_schemas() -> list[type[BaseModel]]:
    """The models whose committed JSON Schema is missing or no longer what the model says."""
    return [cls for cls in SCHEMA_MODELS
            if not schema_path(cls).exists() or schema_path(cls).read_text(encoding="utf-8") != render_schema(cls)]


def write_schemas() -> list[Path]:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in SCHEMA_MODELS:
        path = schema_path(cls)
        path.write_text(render_schema(cls), encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "ALL_EVENT_CLASSES",
    "EVENT_CLASSES",
    "EVENT_REGISTRY",
    "INBOUND_MESSAGES",
    "SCHEMA_MODELS",
    "ComplaintClassified",
    "ComplaintClassifiedData",
    "Event",
    "FeedbackReceived",
    "FeedbackReceivedData",
    "ItemAnswer",
    "OrgPath",
    "RepairAccepted",
    "RepairAcceptedData",
    "SurveyReturned",
    "SurveyReturnedData",
    "UndecodableEvent",
    "decode_event",
    "json_schema",
    "render_schema",
    "schema_path",
    "stale_schemas",
    "validation_reason",
    "write_schemas",
]
