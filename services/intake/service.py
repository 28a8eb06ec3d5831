"""Intake's use cases. They change state and queue events; the caller's unit of work commits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.intake import domain
from services.intake.models import FeedbackRecord, Submission
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events.inbound import ContactDetails, FeedbackSubmission

#: (moment, org path) -> whether it lies in that org unit's working time; None when unknown.
WorkingTime = Callable[[datetime, str], bool | None]
#: Finds or registers the customer behind contact details; returns the customer id.
CustomerResolver = Callable[..., Awaitable[uuid.UUID]]
#: ``receive_feedback`` with the composition root's wiring (clock, calendar, resolver) bound.
Receiver = Callable[..., Awaitable["Receipt"]]


@dataclass(frozen=True)
class Receipt:
    feedback_id: uuid.UUID
    created: bool
    duplicate_of: uuid.UUID | None = None
    incident_group_id: uuid.UUID | None = None


async def receive_feedback(
    submission: FeedbackSubmission,
    *,
    uow: UnitOfWork,
    clock: Clock,
    correlation_id: uuid.UUID,
    idempotency_key: str | None = None,
    staff_required: bool = True,
    working_time: WorkingTime | None = None,
    resolve_customer: CustomerResolver | None = None,
    policy: domain.DuplicatePolicy = domain.DuplicatePolicy(),
) -> Receipt:
    """Record one piece of customer information and queue its FeedbackReceived.

    A retry (same idempotency key, or same source system and external id) returns the original
    feedback id and queues nothing. Raises SubmissionRefused or IdempotencyConflict.
    """
    now = clock()
    received_by = domain.received_by_of(submission, staff_required=staff_required)
    received_at = domain.received_at_of(submission, now=now)
    feedback_id = uuid.uuid4()
    key = domain.idempotency_key_of(submission, idempotency_key)
    if key is not None:
        request_hash = domain.fingerprint(submission)
        # Concurrent retries queue on this row's unique index until the first one commits.
        claimed = await uow.session.execute(
            pg_insert(Submission)
            .values(idempotency_key=key, request_hash=request_hash, feedback_id=feedback_id)
            .on_conflict_do_nothing()
            .returning(Submission.feedback_id)
        )
        if claimed.first() is None:
            earlier = (
                await uow.session.execute(sa.select(Submission).where(Submission.idempotency_key == key))
            ).scalar_one()
            if earlier.request_hash != request_hash:
                raise domain.IdempotencyConflict(key)
            return Receipt(feedback_id=earlier.feedback_id, created=False)

    customer_id = submission.customer_id
    if customer_id is None and submission.contact is not None and resolve_customer is not None:
        customer_id = await resolve_customer(
            submission.contact, project_id=submission.project_id or submission.org.project, uow=uow, clock=clock,
            org=submission.org, correlation_id=correlation_id,
        )
    project_id = submission.project_id or submission.org.project
    links = domain.Links()
    if project_id is not None:
        # One project's feedback is linked one at a time, so two near-identical reports arriving
        # together still see each other.
        await uow.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"intake:feedback:{project_id}"}
        )
        prior = await _recent_feedback(uow, project_id=project_id, around=received_at, policy=policy)
        links = domain.link(
            kind=submission.kind, customer_id=customer_id, unit=submission.unit, text=submission.text,
            received_at=received_at, prior=prior, policy=policy,
        )
        if links.group_founder is not None:
            await uow.session.execute(
                sa.update(FeedbackRecord)
                .where(FeedbackRecord.id == links.group_founder, FeedbackRecord.incident_group_id.is_(None))
                .values(incident_group_id=links.group_founder)
            )
    in_working_time = working_time(received_at, submission.org.as_path()) if working_time else None
    uow.session.add(
        FeedbackRecord(
            id=feedback_id,
            kind=submission.kind.value,
            channel=submission.channel.value,
            text=submission.text,
            received_at=received_at,
            received_by=received_by,
            in_working_time=in_working_time,
            customer_id=customer_id,
            project_id=project_id,
            project_stage=submission.project_stage.value if submission.project_stage else None,
            unit=submission.unit,
            org_group=submission.org.group,
            org_subsidiary=submission.org.subsidiary,
            org_project=submission.org.project,
            attachments=list(submission.attachments),
            source_system=submission.source_system,
            external_id=submission.external_id,
            duplicate_of=links.duplicate_of,
            incident_group_id=links.incident_group_id,
            correlation_id=correlation_id,
        )
    )
    uow.publish(
        domain.feedback_received(
            submission, feedback_id=feedback_id, received_at=received_at, received_by=received_by,
            customer_id=customer_id, in_working_time=in_working_time, links=links,
            correlation_id=correlation_id, now=now,
        )
    )
    return Receipt(feedback_id, True, links.duplicate_of, links.incident_group_id)


async def _recent_feedback(
    uow: UnitOfWork, *, project_id: str, around: datetime, policy: domain.DuplicatePolicy
) -> list[domain.PriorFeedback]:
    f = FeedbackRecord
    rows = await uow.session.execute(
        sa.select(f.id, f.kind, f.customer_id, f.unit, f.text, f.received_at, f.duplicate_of, f.incident_group_id)
        .where(
            f.project_id == project_id,
            f.received_at >= around - policy.window,
            f.received_at <= around + policy.window,
        )
        .order_by(f.received_at)
        .limit(500)
    )
    return [domain.PriorFeedback(*row) for row in rows.all()]


async def get_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> FeedbackRecord | None:
    return await uow.session.get(FeedbackRecord, feedback_id)


__all__ = ["ContactDetails", "Receipt", "get_feedback", "receive_feedback"]
