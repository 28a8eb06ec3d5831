"""Routing's HTTP routes (the handlers' workbench grows here)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.routing import service
from services.routing.models import Case
from shared.db import UnitOfWorkFactory


class CaseOut(BaseModel):
    case_id: uuid.UUID
    feedback_id: uuid.UUID
    kind: str
    status: str
    category: str | None
    complaint_class: int | None
    valid: bool | None
    important: bool | None
    confidence: float | None
    rules_fired: list[str]
    lead_department: str | None
    assisting_departments: list[str]
    first_contact_owner: str
    received_at: datetime
    correlation_id: uuid.UUID


def _out(c: Case) -> CaseOut:
    return CaseOut(
        case_id=c.id,
        feedback_id=c.feedback_id,
        kind=c.kind,
        status=c.status,
        category=c.category,
        complaint_class=c.complaint_class,
        valid=c.valid,
        important=c.important,
        confidence=c.confidence,
        rules_fired=list(c.rules_fired or []),
        lead_department=c.lead_department,
        assisting_departments=list(c.assisting_departments or []),
        first_contact_owner=c.first_contact_owner,
        received_at=c.received_at,
        correlation_id=c.correlation_id,
    )


def build_router(*, uow_factory: UnitOfWorkFactory) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["cases"])

    @router.get("/cases/{case_id}", response_model=CaseOut)
    async def get_case(case_id: uuid.UUID) -> CaseOut:
        async with uow_factory() as uow:
            case = await service.get_case(case_id, uow=uow)
        if case is None:
            raise HTTPException(status_code=404, detail={"error": "not_found", "case_id": str(case_id)})
        return _out(case)

    @router.get("/cases", response_model=list[CaseOut])
    async def find_cases(feedback_id: uuid.UUID) -> list[CaseOut]:
        async with uow_factory() as uow:
            case = await service.case_for_feedback(feedback_id, uow=uow)
        return [_out(case)] if case else []

    return router
