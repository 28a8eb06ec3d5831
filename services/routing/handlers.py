"""Routing's subscribers: thin; decoding and the inbox are the consumer's, the work the use cases'."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from services.routing import service
from shared.db import UnitOfWork
from shared.events import Event, FeedbackReceived, SurveyReturned
from shared.events.catalog import CustomerErased
from shared.messaging.consumer import Handler


#: Runs in the transaction that opened a case for the feedback (e.g. the repair report), with the
#: case's id and whether it was opened just now (False: the feedback had a case already).
AfterOpening = Callable[[FeedbackReceived, uuid.UUID, bool, UnitOfWork], Awaitable[None]]


def build_handlers(*, deps: service.Collaborators, after_opening: AfterOpening | None = None) -> dict[str, Handler]:
    async def on_feedback_received(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, FeedbackReceived)
        case_id = await service.open_case(event, uow=uow, deps=deps)
        if after_opening is None:
            return
        if case_id is not None:
            await after_opening(event, case_id, True, uow)
            return
        # the feedback had a case already (e.g. sent again under a new event id)
        existing = await service.case_for_feedback(event.data.feedback_id, uow=uow)
        if existing is not None:
            await after_opening(event, existing.id, False, uow)

    async def on_survey_returned(event: Event, uow: UnitOfWork) -> None:
        # A return visit on a case (回访) comes back as a survey answer that names the case.
        assert isinstance(event, SurveyReturned)
        if event.data.case_id is not None:
            await uow.flush()  # the deadlines that opening cases deferred in this batch, before they are read
            await service.return_visit_done(event.data.case_id, uow=uow, deps=deps, caused_by=event)

    async def on_customer_erased(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, CustomerErased)
        await uow.flush()  # keep the deferred writes of this batch in order with this one
        await service.forget_customer(event.data.customer_id, uow=uow)

    return {
        FeedbackReceived.EVENT_TYPE: on_feedback_received,
        SurveyReturned.EVENT_TYPE: on_survey_returned,
        CustomerErased.EVENT_TYPE: on_customer_erased,
    }
