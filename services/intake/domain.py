"""Intake's rules: what a piece of customer information must hold before it is accepted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.events.vocabulary import Channel, FeedbackKind, ProjectStage

PRODUCER = "intake"


@dataclass(frozen=True)
class ReceiveFeedback:
    """Command: record one piece of customer information from any channel."""

    kind: FeedbackKind
    channel: Channel
    text: str
    received_by: str
    org: OrgPath
    correlation_id: uuid.UUID
    received_at: datetime | None = None
    customer_id: uuid.UUID | None = None
    project_id: str | None = None
    project_stage: ProjectStage | None = None
    unit: str | None = None
    attachments: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Feedback:
    id: uuid.UUID
    command: ReceiveFeedback
    received_at: datetime


def accept(command: ReceiveFeedback, *, now: datetime, feedback_id: uuid.UUID) -> Feedback:
    """Accept a submission; the receiving time defaults to now and may not lie in the future."""
    received_at = command.received_at or now
    if received_at > now:
        raise ValueError("received_at lies in the future")
    return Feedback(id=feedback_id, command=command, received_at=received_at)


def feedback_received(feedback: Feedback, *, now: datetime) -> FeedbackReceived:
    cmd = feedback.command
    return FeedbackReceived.create(
        data=FeedbackReceivedData(
            feedback_id=feedback.id,
            kind=cmd.kind,
            channel=cmd.channel,
            text=cmd.text,
            received_at=feedback.received_at,
            received_by=cmd.received_by,
            customer_id=cmd.customer_id,
            project_id=cmd.project_id or cmd.org.project,
            project_stage=cmd.project_stage,
            unit=cmd.unit,
            attachments=cmd.attachments,
        ),
        org=cmd.org,
        aggregate_id=feedback.id,
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=cmd.correlation_id,
    )
