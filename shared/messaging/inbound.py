"""Inbound topics: what other enterprise systems send, decoded and attributed to its source.

An inbound message is validated exactly as the same request over HTTP; one that fails, or comes
from a source system that is not allowed, is dead-lettered at once with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared.events import UndecodableEvent, validation_reason

M = TypeVar("M", bound=BaseModel)


def inbound_decoder(model: type[M]) -> Callable[[bytes], M]:
    def decode(value: bytes) -> M:
        try:
            return model.model_validate_json(value)
        except ValidationError as exc:
            raise UndecodableEvent(validation_reason(exc)) from exc

    return decode


def source_allow_list(allowed: Iterable[str], *, where: str) -> Callable[[Any, ConsumerRecord[Any, Any]], str | None]:
    """A consumer ``validate`` hook refusing any ``source_system`` not in ``allowed``."""
    allowed_set = frozenset(allowed)

    def check(message: Any, record: ConsumerRecord[Any, Any]) -> str | None:
        source = getattr(message, "source_system", None)
        if source not in allowed_set:
            return f"source_system {source!r} is not on {where}'s inbound allow-list"
        return None

    return check
