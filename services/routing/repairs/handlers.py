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

import uuid

from services.routing.handlers import AfterOpening
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


def report_after_opening(*, deps: service.RepairCollaborators) -> AfterOpening:
    """Right after a case opens, in its transaction: the repair report of a complaint or repair
    request (a repair request goes onto a work order). Idempotent, as a case may be found already
    opened."""
    async def record_report(event: FeedbackReceived, case_id: uuid.UUID, opened: bool, uow: UnitOfWork) -> None:
        if event.data.kind in service.REPORTED_KINDS:
            await service.record_report(event, case_id, uow=uow, deps=deps, new_case=opened)

    return record_report
