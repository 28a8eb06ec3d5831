"""Intake's subscribers: feedback submitted by other enterprise systems on ``inbound.feedback``."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from services.intake import domain, service
from shared.db import UnitOfWork
from shared.events import UndecodableEvent
from shared.events.inbound import SUBMISSION_NAMESPACE, InboundFeedback
from shared.messaging.consumer import Handler, PermanentError


def decode_inbound(value: bytes) -> InboundFeedback:
    """The same validation as HTTP; a failure is dead-lettered at once with the fields named."""
    try:
        return InboundFeedback.model_validate_json(value)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise UndecodableEvent(reasons) from exc


def source_check(allowed: list[str]) -> Any:
    allowed_set = frozenset(allowed)

    def check(message: Any, record: ConsumerRecord[Any, Any]) -> str | None:
        source = getattr(message, "source_system", None)
        if source not in allowed_set:
            return f"source_system {source!r} is not on the inbound allow-list"
        return None

    return check


def build_handlers(*, receive: service.Receiver) -> dict[str, Handler]:
    async def on_inbound_feedback(message: Any, uow: UnitOfWork) -> None:
        assert isinstance(message, InboundFeedback)
        correlation_id = message.correlation_id or uuid.uuid5(SUBMISSION_NAMESPACE, f"corr:{message.event_id}")
        submission = message  # an InboundFeedback is a FeedbackSubmission
        try:
            await receive(submission, uow=uow, correlation_id=correlation_id, staff_required=False)
        except (domain.SubmissionRefused, domain.IdempotencyConflict) as exc:
            raise PermanentError(str(exc)) from exc

    return {"FeedbackSubmission": on_inbound_feedback}
