"""Routing's subscribers: thin, decode is done by the consumer; the use case does the work."""

from __future__ import annotations

from services.routing import service
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events import Event, FeedbackReceived
from shared.messaging.consumer import Handler


def build_handlers(*, clock: Clock) -> dict[str, Handler]:
    async def on_feedback_received(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, FeedbackReceived)
        await service.open_case(event, uow=uow, clock=clock)

    return {FeedbackReceived.EVENT_TYPE: on_feedback_received}
