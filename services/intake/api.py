"""Intake's HTTP routes for staff tools and apps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.intake import domain, service
from services.intake import erasure as erasure_service
from services.intake.models import Customer
from services.intake.registry import service as registry_service
from services.intake.registry.api import customers_visible_to
from services.intake.registry.domain import RecordNotFound
from shared.auth import EVERYONE, PEOPLE, Principal, Role, require
from shared.auth.audit import record_personal_data_read, take_change_row
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.db.group_commit import GroupCommit
from shared.events import OrgPath
from shared.events.inbound import FeedbackSubmission
from shared.events.vocabulary import Channel, FeedbackKind
from shared.http import correlation_id_of
from shared.i18n import pick
from shared.labels import name_of
from shared.pii import contains_personal_data, mask_personal_data


class StaffFeedbackSubmission(FeedbackSubmission):
    """What staff tools send: the same as every channel, and the receiver is required."""

    received_by: str = Field(  # type: ignore[assignment]
        min_length=1, max_length=64, description="staff id of the first-contact owner (首问负责人)"
    )


class FeedbackAccepted(BaseModel):
    feedback_id: uuid.UUID
    correlation_id: uuid.UUID
    created: bool
    duplicate_of: uuid.UUID | None = None
    incident_group_id: uuid.UUID | None = None


class FeedbackOut(BaseModel):
    feedback_id: uuid.UUID
    kind: FeedbackKind
    kind_name: str = Field(default="", description="the kind as people read it (投诉, 建议…; English with ?lang=en)")
    channel: Channel
    channel_name: str = Field(default="", description="the channel as people read it (来电, 来函…)")
    text: str
    received_at: datetime
    received_by: str
    in_working_time: bool | None
    org: OrgPath
    project_id: str | None
    unit: str | None
    customer_id: uuid.UUID | None
    attachments: list[str]
    source_system: str | None
    external_id: str | None
    duplicate_of: uuid.UUID | None
    incident_group_id: uuid.UUID | None
    correlation_id: uuid.UUID


# Every employee may receive a customer (首问负责制, docs/domain.md §1), and so may integrating systems.
RECEIVE = require(*EVERYONE)
READ_FEEDBACK = require(*PEOPLE)
ERASE = require(Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR)


def out_of_scope(what: str, what_zh: str) -> HTTPException:
    return HTTPException(403, {"error": "out_of_scope",
                               "reason": pick(f"{what_zh}不在你的组织范围内", f"{what} is outside your org units")})


def refused(exc: domain.SubmissionRefused) -> HTTPException:
    return HTTPException(422, {"error": "validation_failed",
                               "fields": [{"field": exc.field, "reason": pick(exc.reason, exc.reason_en)}]})


class ErasureIn(BaseModel):
    reason: Literal["customer_request", "retention_expired", "other"] = "customer_request"


class ErasureOut(BaseModel):
    customer_id: uuid.UUID
    erased_at: datetime
    feedback_scrubbed: int
    already_erased: bool


@dataclass(frozen=True)
class StaffSubmission:
    """One ``POST /feedback`` on its way into the database, with what its transaction must write
    besides the feedback: the request's audit row."""

    body: StaffFeedbackSubmission
    correlation_id: uuid.UUID
    idempotency_key: str | None
    audit: dict[str, Any] | None
    caller: Principal | None = None


FeedbackWriter = GroupCommit[StaffSubmission, service.Receipt]


def feedback_writer(*, uow_factory: UnitOfWorkFactory, receive: service.Receiver,
                    receive_batch: service.BatchReceiver, max_batch: int) -> FeedbackWriter:
    """Concurrent submissions recorded together (``shared.db.group_commit``): one transaction,
    one statement per step for the lot (``receive_feedback_batch``), each request's audit row
    in it; a batch with a refused submission is recorded again one submission at a time, so only
    that request is refused."""
    async def apply_batch(items: Sequence[StaffSubmission]) -> list[service.Receipt]:
        async with uow_factory() as uow:
            receipts = await receive_batch(
                [(item.body, item.correlation_id) for item in items], uow=uow, staff_required=True,
                idempotency_keys=[item.idempotency_key for item in items], callers=[item.caller for item in items])
            for item in items:
                if item.audit is not None:
                    uow.record(item.audit)
            await uow.commit()
        return receipts

    async def apply_one(item: StaffSubmission) -> service.Receipt:
        async with uow_factory() as uow:
            receipt = await receive(item.body, uow=uow, correlation_id=item.correlation_id,
                                    idempotency_key=item.idempotency_key, staff_required=True, caller=item.caller)
            if item.audit is not None:
                uow.record(item.audit)
            await uow.commit()
        return receipt

    return GroupCommit(apply_batch=apply_batch, apply_one=apply_one, max_batch=max_batch, name="intake.feedback")


def build_router(*, uow_factory: UnitOfWorkFactory, writer: FeedbackWriter, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["feedback"])

    @router.post(
        "/feedback",
        status_code=status.HTTP_201_CREATED,
        response_model=FeedbackAccepted,
        responses={200: {"description": "a retry: the original feedback"}, 409: {"description": "key reused"}},
    )
    async def post_feedback(
        body: StaffFeedbackSubmission,
        request: Request,
        caller: Annotated[Principal, Depends(RECEIVE)],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """Record feedback from any channel. Send an `Idempotency-Key` header so that a retried
        request returns the original feedback instead of recording it twice."""
        if not caller.may_see(body.org.as_path()):
            raise out_of_scope("this org unit", "该组织")
        correlation_id = correlation_id_of(request)
        try:
            # with the other requests of the moment, in one transaction (see feedback_writer)
            receipt = await writer.submit(StaffSubmission(body, correlation_id, idempotency_key, take_change_row(), caller))
        except domain.SubmissionRefused as exc:
            raise refused(exc) from exc
        except domain.IdempotencyConflict as exc:
            raise HTTPException(409, {"error": "idempotency_key_reused",
                                      "reason": pick("此幂等键已用于另一份提交",
                                                     "this key was used for a different submission")}) from exc
        accepted = FeedbackAccepted(
            feedback_id=receipt.feedback_id, correlation_id=correlation_id, created=receipt.created,
            duplicate_of=receipt.duplicate_of, incident_group_id=receipt.incident_group_id,
        )
        # Serialised here: the model is ours, so FastAPI need not validate it again (response_model
        # still documents it).
        return Response(accepted.model_dump_json(), media_type="application/json",
                        status_code=status.HTTP_201_CREATED if receipt.created else status.HTTP_200_OK)

    @router.get("/feedback/{feedback_id}", response_model=FeedbackOut)
    async def get_feedback(feedback_id: uuid.UUID, caller: Annotated[Principal, Depends(READ_FEEDBACK)]) -> FeedbackOut:
        async with uow_factory() as uow:
            record = await service.get_feedback(feedback_id, uow=uow)
            customer = await uow.session.get(Customer, record.customer_id) if record and record.customer_id else None
        # Outside the caller's org units a record does not exist for them.
        if record is None or not caller.may_see_org(record.org_group, record.org_subsidiary, record.org_project):
            raise HTTPException(404, {"error": "not_found", "feedback_id": str(feedback_id)})
        # A customer's words may carry personal data (phones, ID-card numbers, e-mails, the customer's
        # own names): in clear only for the roles that see contact details, and then recorded as a
        # read of personal data; masked by the one detector for everyone else.
        text = record.text
        names = [n for n in (customer.name, customer.company) if n] if customer is not None else []
        if contains_personal_data(text, names=names):
            if caller.sees_contact_details:
                await record_personal_data_read(uow_factory, caller, what="personal data in feedback text",
                                                resources=[str(record.id)], fields=["text"])
            else:
                text = mask_personal_data(text, names=names)
        return FeedbackOut(
            feedback_id=record.id, kind=FeedbackKind(record.kind), kind_name=name_of("kind", record.kind),
            channel=Channel(record.channel), channel_name=name_of("channel", record.channel),
            text=text, received_at=record.received_at, received_by=record.received_by,
            in_working_time=record.in_working_time,
            org=OrgPath(group=record.org_group, subsidiary=record.org_subsidiary, project=record.org_project),
            project_id=record.project_id, unit=record.unit, customer_id=record.customer_id,
            attachments=list(record.attachments or []), source_system=record.source_system,
            external_id=record.external_id, duplicate_of=record.duplicate_of,
            incident_group_id=record.incident_group_id, correlation_id=record.correlation_id,
        )

    @router.post("/customers/{customer_id}/erasure", response_model=ErasureOut, tags=["customers"])
    async def erase(customer_id: uuid.UUID, body: ErasureIn, request: Request,
                    caller: Annotated[Principal, Depends(ERASE)]) -> ErasureOut:
        """Erase a person on request: contact details removed, their feedback texts scrubbed, and
        CustomerErased sent so that every other service removes what it holds. Repeating it is
        harmless."""
        async with uow_factory() as uow:
            customer = await registry_service.get_customer(customer_id, uow=uow)
        if customer is not None and not await customers_visible_to(caller, [customer], uow_factory=uow_factory):
            raise HTTPException(404, {"error": "not_found", "customer_id": str(customer_id)})
        try:
            async with uow_factory() as uow:
                erasure = await erasure_service.erase_customer(
                    customer_id, reason=body.reason, uow=uow, clock=clock, correlation_id=correlation_id_of(request)
                )
                await uow.commit()
        except RecordNotFound as exc:
            raise HTTPException(404, {"error": "not_found", "customer_id": str(customer_id)}) from exc
        return ErasureOut(**vars(erasure))

    return router
