"""Intake's subscribers: feedback submitted by other enterprise systems on ``inbound.feedback``; the
holiday schedules loaded in routing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.intake import domain, service
from services.intake.models import holiday_schedules
from shared.calendar_store import schedule_of_event, store_schedule
from shared.db import UnitOfWork
from shared.events import Event
from shared.events.calendar import HolidayScheduleLoaded
from shared.events.inbound import SUBMISSION_NAMESPACE, InboundFeedback
from shared.messaging.consumer import BatchHandler, Handler, PermanentError
from shared.messaging.inbound import inbound_decoder, source_allow_list


decode_inbound = inbound_decoder(InboundFeedback)


def source_check(allowed: list[str]) -> Any:
    return source_allow_list(allowed, where="intake")


def _correlation_id(message: InboundFeedback) -> uuid.UUID:
    return message.correlation_id or uuid.uuid5(SUBMISSION_NAMESPACE, f"corr:{message.event_id}")


def build_handlers(*, receive: service.Receiver, registered_orgs_only: bool = True) -> dict[str, Handler]:
    """``registered_orgs_only``: a record for an org unit not registered in the registry, like one
    naming a project registered under another org path, is refused and so dead-lettered with the
    reason in its headers."""
    async def on_inbound_feedback(message: Any, uow: UnitOfWork) -> None:
        assert isinstance(message, InboundFeedback)
        correlation_id = _correlation_id(message)
        submission = message  # an InboundFeedback is a FeedbackSubmission
        try:
            # A batch's feedback rows go out together at its commit (or when a later submission of
            # the same project must see them).
            await receive(
                submission, uow=uow, correlation_id=correlation_id, staff_required=False, defer_insert=True,
                registered_orgs_only=registered_orgs_only,
            )
        except (domain.SubmissionRefused, domain.IdempotencyConflict) as exc:
            raise PermanentError(str(exc)) from exc

    return {"FeedbackSubmission": on_inbound_feedback}


def build_batch_handlers(*, receive_batch: service.BatchReceiver,
                         registered_orgs_only: bool = True) -> dict[str, BatchHandler]:
    """The same, for consecutive submissions of one batch at once (see ``receive_feedback_batch``).

    A refusal raises: the consumer then takes the batch one submission at a time, through the
    handler above, which dead-letters just the refused one.
    """
    async def on_inbound_feedback_batch(messages: Sequence[Any], uow: UnitOfWork) -> None:
        await receive_batch([(message, _correlation_id(message)) for message in messages], uow=uow,
                            staff_required=False, registered_orgs_only=registered_orgs_only)

    return {"FeedbackSubmission": on_inbound_feedback_batch}


def build_calendar_handlers() -> dict[str, Handler]:
    """Holiday schedules loaded in routing: kept in intake's schema, where every intake replica's
    calendar refresher reads them (in working time or not is intake's to say)."""
    async def on_holiday_schedule_loaded(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, HolidayScheduleLoaded)
        await store_schedule(uow.session, holiday_schedules, schedule_of_event(event),
                             loaded_by=event.data.loaded_by, loaded_at=event.data.loaded_at)

    return {HolidayScheduleLoaded.EVENT_TYPE: on_holiday_schedule_loaded}
