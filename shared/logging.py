"""JSON structured logs with the correlation id; personal data never printed.

Code logs ids and counts, never payloads. As a second line of defence, the formatter masks
anything in a message or extra field that the personal-data detector (shared.pii) finds: phone
numbers, ID-card and bank-card numbers, e-mail addresses.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from shared.pii import mask_personal_data

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "careloop_correlation_id", default=None
)


_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token[str | None]:
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    _correlation_id.reset(token)


def redact(text: str) -> str:
    """Free text with the personal data the detector finds replaced by placeholders ("[电话]", "[邮箱]" …)."""
    return mask_personal_data(text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        correlation_id = getattr(record, "correlation_id", None) or _correlation_id.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry and not key.startswith("_"):
                entry[key] = _scrub(value)
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library loggers that would otherwise print request bodies or noisy internals.
    for noisy in ("aiokafka", "faststream", "uvicorn.access", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
