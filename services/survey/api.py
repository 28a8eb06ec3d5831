"""Survey's HTTP routes: staff entering returned forms (the one-time-link page comes later)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.survey import domain, service
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.vocabulary import SurveyScheme
from shared.http import correlation_id_of


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=64)
    level: str | None = Field(default=None, description="None for an unanswered item")


class SurveyResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(default=1, ge=1)
    scheme: SurveyScheme
    org: OrgPath
    project_id: str | None = Field(default=None, max_length=64)
    channel: Literal["web", "paper", "phone"] = "paper"
    returned_at: AwareDatetime | None = None
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


class SurveyResponseAccepted(BaseModel):
    response_id: uuid.UUID
    correlation_id: uuid.UUID


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["survey"])

    @router.post("/survey-responses", status_code=status.HTTP_201_CREATED, response_model=SurveyResponseAccepted)
    async def post_response(body: SurveyResponseIn, request: Request) -> SurveyResponseAccepted:
        ids = [a.item_id for a in body.answers]
        if len(set(ids)) != len(ids):
            raise HTTPException(422, {"error": "validation_failed",
                                      "fields": [{"field": "answers", "reason": "an item is answered twice"}]})
        command = service.RecordResponse(
            template_id=body.template_id,
            template_version=body.template_version,
            scheme=body.scheme,
            org=body.org,
            project_id=body.project_id,
            channel=body.channel,
            returned_at=body.returned_at,
            answers=[(a.item_id, a.level) for a in body.answers],
            correlation_id=correlation_id_of(request),
        )
        try:
            async with uow_factory() as uow:
                response_id = await service.record_response(command, uow=uow, clock=clock)
                await uow.commit()
        except domain.InvalidAnswer as exc:
            index = ids.index(exc.item_id)
            raise HTTPException(422, {"error": "validation_failed",
                                      "fields": [{"field": f"answers.{index}.level", "reason": exc.reason}]}) from exc
        return SurveyResponseAccepted(response_id=response_id, correlation_id=command.correlation_id)

    return router
