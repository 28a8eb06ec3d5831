"""The repairs module's subscribers: thin; decoding and the inbox are the consumer's.

- ``complaint.classified`` and ``complaint.reclassified`` (a class-2 complaint goes onto a work
  order; reclassified away, it leaves one nothing was done on yet) and ``registry.project``
  (routing's own copy of the projects, for the warranty period);
- ``feedback.received``: right after a case opens for a complaint or repair request,
  in the same transaction, its repair report is kept — the defect kind is read from the text,
  which only FeedbackReceived carries — and a repair request goes onto a work order.

All of them run in routing's one consumer, ``routing.cases`` (app.py): routing's own events come
back to it through Kafka, and a second consumer group would cost every start a group join.
"""

from __future__ import annotations

from services.routing import service as case_service
from services.routing.repairs import service
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, Event, FeedbackReceived
from shared.events.cases import ComplaintReclassified
from shared.events.catalog import ProjectRegistered
from shared.messaging.consumer import Handler


def build_handlers(*, deps: service.RepairCollaborators) -> dict[str, Handler]:
    async def on_classified(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, ComplaintClassified | ComplaintReclassified)
        await service.reconcile_complaint(event.data.case_id, uow=uow, deps=deps, caused_by=event)

    async def on_project_registered(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, ProjectRegistered)
        await service.record_project(event, uow=uow, now=deps.clock())

    return {
        ComplaintClassified.EVENT_TYPE: on_classified,
        ComplaintReclassified.EVENT_TYPE: on_classified,
        ProjectRegistered.EVENT_TYPE: on_project_registered,
    }


def with_repair_reports(case_handlers: dict[str, Handler], *, deps: service.RepairCollaborators) -> dict[str, Handler]:
    """Routing's case handlers, with the repair report kept in the transaction that opens a case."""
    open_case = case_handlers[FeedbackReceived.EVENT_TYPE]

    async def on_feedback_received(event: Event, uow: UnitOfWork) -> None:
        await open_case(event, uow)
        assert isinstance(event, FeedbackReceived)
        if event.data.kind not in service.REPORTED_KINDS:
            return  # nothing to report (record_report would return at once): no need to look the case up
        case = await case_service.case_for_feedback(event.data.feedback_id, uow=uow)
        if case is not None:
            await service.record_report(event, case.id, uow=uow, deps=deps)

    return {**case_handlers, FeedbackReceived.EVENT_TYPE: on_feedback_received}
