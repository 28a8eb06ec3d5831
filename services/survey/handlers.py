"""Survey's subscribers: thin; decoding and the inbox are the consumer's, the work the use cases'.

- ``survey.events``: intake's registry (projects, units, households, erasures) and routing's case
  events (return visits after an accepted complaint result, as routing decided them, or a jointly
  accepted repair).
- ``survey.inbound``: returned forms from other survey tools on ``inbound.survey-answers``.
"""

from __future__ import annotations

import uuid
from typing import Any


from services.survey import domain, registry, return_visits, service
from shared.db import OutboxMessage, UnitOfWork
from shared.events import ComplaintClassified, Event, RepairAccepted
from shared.events.cases import CaseOpened, CaseTransitioned, ComplaintReclassified, ReturnVisitDecided
from shared.events.catalog import CustomerErased, CustomerRegistered, ProjectRegistered, UnitsRegistered
from shared.events.surveys import ANSWERS_NAMESPACE, InboundSurveyAnswers
from shared.messaging.inbound import inbound_decoder, source_allow_list
from shared.messaging.consumer import Handler
from shared.topics import INBOUND_SURVEY_ANSWERS, dead_letter


def build_handlers(*, deps: service.Deps) -> dict[str, Handler]:
    async def on_project(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, ProjectRegistered)
        await registry.apply_project(event, uow=uow)

    async def on_units(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, UnitsRegistered)
        await registry.apply_units(event, uow=uow)

    async def on_customer(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, CustomerRegistered)
        await registry.apply_customer(event, uow=uow)

    async def on_erased(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, CustomerErased)
        await registry.erase_customer(event, uow=uow)

    async def on_case_opened(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, CaseOpened)
        await return_visits.note_case_opened(event, uow=uow, deps=deps)

    async def on_classified(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, ComplaintClassified | ComplaintReclassified)
        await return_visits.note_classification(event, uow=uow, deps=deps)

    async def on_transitioned(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, CaseTransitioned)
        await return_visits.note_transition(event, uow=uow, deps=deps)

    async def on_return_visit_decided(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, ReturnVisitDecided)
        await return_visits.note_return_visit_decided(event, uow=uow, deps=deps)

    async def on_repair_accepted(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, RepairAccepted)
        await return_visits.on_repair_accepted(event, uow=uow, deps=deps)

    return {
        ProjectRegistered.EVENT_TYPE: on_project,
        UnitsRegistered.EVENT_TYPE: on_units,
        CustomerRegistered.EVENT_TYPE: on_customer,
        CustomerErased.EVENT_TYPE: on_erased,
        CaseOpened.EVENT_TYPE: on_case_opened,
        ComplaintClassified.EVENT_TYPE: on_classified,
        ComplaintReclassified.EVENT_TYPE: on_classified,
        CaseTransitioned.EVENT_TYPE: on_transitioned,
        RepairAccepted.EVENT_TYPE: on_repair_accepted,
        ReturnVisitDecided.EVENT_TYPE: on_return_visit_decided,
    }


# --- inbound answers from other survey tools ----------------------------------------------------

INBOUND_CONSUMER = "survey.inbound"


decode_inbound = inbound_decoder(InboundSurveyAnswers)


def source_check(allowed: list[str]) -> Any:
    return source_allow_list(allowed, where="survey")


def command_of(message: InboundSurveyAnswers) -> service.RecordResponse:
    return service.RecordResponse(
        template_id=message.template_id, template_version=message.template_version, org=message.org,
        answers=[domain.Answer(a.item_id, a.level, a.deduction, a.remark) for a in message.answers],
        channel="inbound",
        correlation_id=message.correlation_id or uuid.uuid5(ANSWERS_NAMESPACE, f"corr:{message.event_id}"),
        project_id=message.project_id, unit_id=message.unit_id, household_id=message.household_id,
        case_id=message.case_id, campaign_id=message.campaign_id, returned_at=message.returned_at,
        hazard_deduction=message.hazard_deduction, source_system=message.source_system,
        external_id=message.external_id, return_visit=message.case_id is not None,
    )


def build_inbound_handlers(*, deps: service.Deps) -> dict[str, Handler]:
    async def on_answers(message: Any, uow: UnitOfWork) -> None:
        assert isinstance(message, InboundSurveyAnswers)
        command = command_of(message)
        try:
            await service.record_response(command, uow=uow, deps=deps)
        except domain.AnswersRefused as refusal:
            # Refused, not failed: kept for audit and dead-lettered with the reason, in the same
            # transaction as the inbox row, so the sender sees why and a redelivery changes nothing.
            await service.record_refusal(refusal, uow=uow, clock=deps.clock, channel="inbound", cmd=command)
            uow.publish_raw(OutboxMessage(
                topic=dead_letter(INBOUND_SURVEY_ANSWERS), key=message.external_id,
                payload=message.model_dump_json().encode(),
                headers={"x-dlq-kind": "answers-refused", "x-dlq-reason": str(refusal)[:1000],
                         "x-dlq-code": refusal.code, "x-dlq-consumer": INBOUND_CONSUMER, "x-dlq-attempts": "1",
                         "x-original-topic": INBOUND_SURVEY_ANSWERS, "x-original-event-id": str(message.event_id)},
                event_id=uuid.uuid5(message.event_id, "refused"), event_type="DeadLetter",
            ))

    return {"SurveyAnswers": on_answers}
