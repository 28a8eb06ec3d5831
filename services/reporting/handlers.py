"""Reporting's subscriber: every event type it projects, in one consumer group."""

from __future__ import annotations

from services.reporting import calendar_view, complaint_list, operations
from services.reporting.projections import PROJECTIONS, project
from shared.db import UnitOfWork
from shared.events import Event
from shared.messaging.consumer import Handler


def _both(first: Handler, second: Handler) -> Handler:
    async def handle(event: Event, uow: UnitOfWork) -> None:
        await first(event, uow)
        await second(event, uow)

    return handle


HANDLERS: dict[str, Handler] = {event_type: project for event_type in PROJECTIONS}
HANDLERS.update(operations.PROJECTIONS)
HANDLERS.update(complaint_list.PROJECTIONS)
HANDLERS.update(calendar_view.PROJECTIONS)
for _event_type, _extra in [*operations.ALSO.items(), *complaint_list.ALSO.items()]:
    HANDLERS[_event_type] = _both(HANDLERS[_event_type], _extra)
