"""Intake's HTTP routes for staff tools and apps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.intake import domain, service
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.vocabulary import Channel, FeedbackKind, ProjectStage
from shared.http import correlation_id_of

AttachmentRef = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^\S+$")]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: FeedbackKind
    channel: Channel
    text: str = Field(min_length=1, max_length=10_000)
    received_by: str = Field(min_length=1, max_length=64, description="staff id of the first-contact owner")
    org: OrgPath
    received_at: AwareDatetime | None = Field(default=None, description="defaults to the time of the request")
    customer_id: uuid.UUID | None = None
    project_id: str | None = Field(default=None, max_length=64)
    project_stage: ProjectStage | None = None
    unit: str | None = Field(default=None, max_length=64)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)


class FeedbackAccepted(BaseModel):
    feedback_id: uuid.UUID
    correlation_id: uuid.UUID


class FeedbackOut(BaseModel):
    feedback_id: uuid.UUID
    kind: FeedbackKind
    channel: Channel
    received_at: datetime
    received_by: str
    org: OrgPath
    project_id: str | None
    unit: str | None
    correlation_id: uuid.UUID


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["feedback"])

    @router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackAccepted)
    async def post_feedback(body: FeedbackIn, request: Request) -> FeedbackAccepted:
        correlation_id = correlation_id_of(request)
        command = domain.ReceiveFeedback(
            **{name: value for name, value in body if name != "attachments"},
            attachments=tuple(body.attachments),
            correlation_id=correlation_id,
        )
        try:
            async with uow_factory() as uow:
                feedback_id = await service.receive_feedback(command, uow=uow, clock=clock)
        except ValueError as exc:
            raise HTTPException(
                status_code=422,
                detail={"error": "validation_failed", "fields": [{"field": "received_at", "reason": str(exc)}]},
            ) from exc
        return FeedbackAccepted(feedback_id=feedback_id, correlation_id=correlation_id)

    @router.get("/feedback/{feedback_id}", response_model=FeedbackOut)
    async def get_feedback(feedback_id: uuid.UUID) -> FeedbackOut:
        async with uow_factory() as uow:
            record = await service.get_feedback(feedback_id, uow=uow)
        if record is None:
            raise HTTPException(status_code=404, detail={"error": "not_found", "feedback_id": str(feedback_id)})
        return FeedbackOut(
            feedback_id=record.id,
            kind=FeedbackKind(record.kind),
            channel=Channel(record.channel),
            received_at=record.received_at,
            received_by=record.received_by,
            org=OrgPath(group=record.org_group, subsidiary=record.org_subsidiary, project=record.org_project),
            project_id=record.project_id,
            unit=record.unit,
            correlation_id=record.correlation_id,
        )

    return router
