"""Routing's use cases. Only the unit of work commits."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing import domain
from services.routing.models import Case
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, ComplaintClassifiedData, FeedbackReceived
from shared.events.vocabulary import FeedbackKind

PRODUCER = "routing"


async def open_case(event: FeedbackReceived, *, uow: UnitOfWork, clock: Clock) -> uuid.UUID | None:
    """Open a case for received feedback and classify it if it is a complaint.

    Returns the new case id, or None when the feedback already has a case. The caller commits.
    """
    data = event.data
    case_id = uuid.uuid4()
    classification = domain.classify(data.text) if data.kind is FeedbackKind.COMPLAINT else None
    values = {
        "id": case_id,
        "feedback_id": data.feedback_id,
        "kind": data.kind.value,
        "status": "classified" if classification else "received",
        "first_contact_owner": data.received_by,
        "org_group": event.org.group,
        "org_subsidiary": event.org.subsidiary,
        "org_project": event.org.project,
        "received_at": data.received_at,
        "correlation_id": event.correlation_id,
    }
    if classification:
        values.update(
            category=classification.category.value,
            complaint_class=classification.complaint_class,
            valid=classification.valid,
            important=classification.important,
            confidence=classification.confidence,
            rules_fired=list(classification.rules_fired),
            lead_department=classification.lead_department.value,
            assisting_departments=[d.value for d in classification.assisting_departments],
        )
    inserted = await uow.session.execute(
        pg_insert(Case).values(**values).on_conflict_do_nothing(index_elements=["feedback_id"]).returning(Case.id)
    )
    if inserted.first() is None:
        return None
    if classification:
        uow.publish(
            ComplaintClassified.create(
                data=ComplaintClassifiedData(
                    case_id=case_id,
                    feedback_id=data.feedback_id,
                    category=classification.category,
                    complaint_class=classification.complaint_class,  # type: ignore[arg-type]
                    valid=classification.valid,
                    important=classification.important,
                    confidence=classification.confidence,
                    rules_fired=classification.rules_fired,
                    rules_version=domain.RULES_VERSION,
                    lead_department=classification.lead_department,
                    assisting_departments=classification.assisting_departments,
                    received_at=data.received_at,
                ),
                org=event.org,
                aggregate_id=case_id,
                occurred_at=clock(),
                producer=PRODUCER,
                caused_by=event,
            )
        )
    return case_id


async def get_case(case_id: uuid.UUID, *, uow: UnitOfWork) -> Case | None:
    return await uow.session.get(Case, case_id)


async def case_for_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> Case | None:
    return (await uow.session.execute(sa.select(Case).where(Case.feedback_id == feedback_id))).scalar_one_or_none()
