"""Upcasters turn an older stored or in-flight event into the current shape before validation.

Register one function per step, ``(event_type, from_version) -> fn(raw) -> raw`` with
``schema_version`` set to ``from_version + 1`` by the function. Consumers call :func:`upcast`
on the raw JSON object and validate the result against the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RawEvent = dict[str, Any]
Upcaster = Callable[[RawEvent], RawEvent]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: ``@upcaster("FeedbackReceived", 1) def upcast_v1_v2(raw): ...``."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} is registered already")
        _UPCASTERS[key] = fn
        return fn

    return register


def unregister(event_type: str, from_version: int) -> None:
    _UPCASTERS.pop((event_type, from_version), None)


def upcast(raw: RawEvent, *, target_version: int) -> RawEvent:
    """Apply upcasters until ``raw`` is at ``target_version``; newer or unknown versions pass as is."""
    event_type = raw.get("event_type")
    version = raw.get("schema_version")
    while isinstance(version, int) and version < target_version:
        step = _UPCASTERS.get((str(event_type), version))
        if step is None:
            raise ValueError(f"no upcaster from {event_type} v{version} to v{version + 1}")
        raw = step(dict(raw))
        if raw.get("schema_version") != version + 1:
            raise ValueError(f"upcaster for {event_type} v{version} did not set schema_version")
        version = raw["schema_version"]
    return raw
