"""Reporting's subscribers: one projection per event type."""

from __future__ import annotations

from services.reporting import service
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, Event, SurveyReturned
from shared.messaging.consumer import Handler


async def on_complaint_classified(event: Event, uow: UnitOfWork) -> None:
    assert isinstance(event, ComplaintClassified)
    await service.count_complaint(event, uow=uow)


async def on_survey_returned(event: Event, uow: UnitOfWork) -> None:
    assert isinstance(event, SurveyReturned)
    await service.count_survey(event, uow=uow)


HANDLERS: dict[str, Handler] = {
    ComplaintClassified.EVENT_TYPE: on_complaint_classified,
    SurveyReturned.EVENT_TYPE: on_survey_returned,
}
