"""Routing's subscribers: thin; decoding and the inbox are the consumer's, the work the use cases'."""

from __future__ import annotations

from services.routing import service
from shared.db import UnitOfWork
from shared.events import Event, FeedbackReceived, SurveyReturned
from shared.events.catalog import CustomerErased
from shared.messaging.consumer import Handler


def build_handlers(*, deps: service.Collaborators) -> dict[str, Handler]:
    async def on_feedback_received(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, FeedbackReceived)
        await service.open_case(event, uow=uow, deps=deps)

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
