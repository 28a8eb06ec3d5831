"""Integration events: envelope, catalog, decoding with upcasting, committed JSON Schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

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
from shared.events.surveys import SURVEY_EVENT_CLASSES  # noqa: E402

ALL_EVENT_CLASSES: tuple[type[Event], ...] = (
    EVENT_CLASSES + CASE_EVENT_CLASSES + REPAIR_EVENT_CLASSES + SURVEY_EVENT_CLASSES + REPORT_EVENT_CLASSES
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


def schema_path(cls: type[Event]) -> Path:
    return SCHEMA_DIR / f"{cls.EVENT_TYPE}.v{cls.SCHEMA_VERSION}.json"


def render_schema(cls: type[Event]) -> str:
    return json.dumps(json_schema(cls), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas() -> list[Path]:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in ALL_EVENT_CLASSES:
        path = schema_path(cls)
        path.write_text(render_schema(cls), encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "ALL_EVENT_CLASSES",
    "EVENT_CLASSES",
    "EVENT_REGISTRY",
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
    "validation_reason",
    "write_schemas",
]
