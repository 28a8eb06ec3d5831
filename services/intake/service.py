"""Intake's use cases. Only the unit of work commits."""

from __future__ import annotations

import uuid

from services.intake import domain
from services.intake.models import FeedbackRecord
from shared.clock import Clock
from shared.db import UnitOfWork


async def receive_feedback(
    command: domain.ReceiveFeedback, *, uow: UnitOfWork, clock: Clock
) -> uuid.UUID:
    now = clock()
    feedback = domain.accept(command, now=now, feedback_id=uuid.uuid4())
    cmd = feedback.command
    uow.session.add(
        FeedbackRecord(
            id=feedback.id,
            kind=cmd.kind.value,
            channel=cmd.channel.value,
            text=cmd.text,
            received_at=feedback.received_at,
            received_by=cmd.received_by,
            customer_id=cmd.customer_id,
            project_id=cmd.project_id or cmd.org.project,
            project_stage=cmd.project_stage.value if cmd.project_stage else None,
            unit=cmd.unit,
            org_group=cmd.org.group,
            org_subsidiary=cmd.org.subsidiary,
            org_project=cmd.org.project,
            attachments=list(cmd.attachments),
            correlation_id=cmd.correlation_id,
        )
    )
    uow.publish(domain.feedback_received(feedback, now=now))
    await uow.commit()
    return feedback.id


async def get_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> FeedbackRecord | None:
    return await uow.session.get(FeedbackRecord, feedback_id)
