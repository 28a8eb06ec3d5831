"""HTTP for site teams: my work orders, every step of a repair, photos, the joint acceptance; and
the remediation of recurring defects.

Every POST that records something takes an idempotency key — the ``Idempotency-Key`` header or
``client_step_id`` in the body — so that a retried post is applied once and answers with the
response the first one got (header ``Idempotent-Replayed: true``). A key reused for a different
request is refused (422). A step in the wrong state is a 409 that names the state.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.routing.repairs import domain, service
from services.routing.repairs.domain import (
    RemediationRefused,
    RemediationState,
    StepInvalid,
    StepRefused,
    WorkOrderState,
    allowed_remediation_steps,
    allowed_steps,
)
from services.routing.repairs.models import RemediationItem, WorkOrder
from shared.auth import Principal, Role, current_access, require
from shared.auth.scoping import org_columns_clause
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events.repairs import Responsibility, SignerRole
from shared.events.vocabulary import Department
from shared.i18n import pick
from shared.labels import name_of
from shared.pagination import Page

Actor = Field(min_length=1, max_length=64, description="staff id of the person acting")
IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- bodies --------------------------------------------------------------------------------------


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    note: str | None = Field(default=None, max_length=4000)
    client_step_id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="the caller's id for this step; a retry with the same id is applied once",
    )


def _references_only(photos: list[str]) -> list[str]:
    if problems := domain.photo_problems(photos):
        raise ValueError(f"{problems[0]}: a photo is an object key or URL, never the picture itself")
    return photos


class WithPhotos(StepIn):
    photos: list[str] = Field(default_factory=list, max_length=50,
                              description="object keys or URLs of photos already uploaded; never the pictures")
    _photos_are_references = field_validator("photos")(_references_only)


class AssignIn(StepIn):
    assignee: str = Field(min_length=1, max_length=64, description="staff id of the site team member")


class InvestigationIn(WithPhotos):
    nature: str = Field(min_length=1, max_length=2000, description="what the defect is (性质)")
    cause: str = Field(min_length=1, max_length=2000, description="why it happened (原因)")
    responsibility: Responsibility = Field(description="who is responsible (责任)")
    in_scope: bool | None = Field(
        default=None, description="within the warranty's scope; if unset, household or third-party damage is not")


class PlanIn(WithPhotos):
    scope: str = Field(min_length=1, max_length=4000)
    duration_hours: float = Field(gt=0, le=24 * 365)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2,
                                 description="estimated cost, CNY")
    resources: str = Field(min_length=1, max_length=2000)
    planned_finish: AwareDatetime | None = Field(default=None, description="default: now + duration")
    customer_requested_by: AwareDatetime | None = Field(
        default=None, description="the time the customer asked for; in warranty the plan finishes by it")
    quoted_fee: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2,
                                       description="chargeable repairs: the fee the customer is asked to confirm")
    agreed_with: SignerRole = "owner"


class FeeDecisionIn(StepIn):
    confirmed: bool
    decided_by: SignerRole = "owner"
    reason: str | None = Field(default=None, max_length=2000, description="why the customer declined")


class InspectionIn(WithPhotos):
    passed: bool
    findings: str | None = Field(default=None, max_length=4000)


class JointAcceptanceIn(WithPhotos):
    accepted: bool
    owner_signature_ref: str | None = Field(default=None, min_length=1, max_length=512,
                                            description="reference to the owner's signature (scan key, e-sign id)")
    owner_signer_role: SignerRole | None = None
    owner_signer_customer_id: uuid.UUID | None = Field(default=None, description="the signer by customer id, never a name")
    contractor_signature_ref: str | None = Field(default=None, min_length=1, max_length=512)
    contractor_signer: str | None = Field(default=None, min_length=1, max_length=64, description="staff id")
    reason: str | None = Field(default=None, max_length=4000, description="why the owner refused: the rework's brief")


class VerificationIn(StepIn):
    passed: bool
    findings: str | None = Field(default=None, max_length=4000)
    department: Department = Department.ENGINEERING_QUALITY


class PhotosIn(StepIn):
    photos: list[str] = Field(min_length=1, max_length=50, description="object keys or URLs; never the pictures")
    _photos_are_references = field_validator("photos")(_references_only)


class RemediationPlanIn(StepIn):
    plan: str = Field(min_length=1, max_length=4000, description="the company-level remediation plan")
    responsible_department: Department
    due_at: AwareDatetime | None = None


class RemediationAcceptanceIn(StepIn):
    accepted: bool
    representative_role: SignerRole = "developer_representative"
    representative_customer_id: uuid.UUID | None = None
    signature_ref: str | None = Field(default=None, min_length=1, max_length=512)
    evaluation: str = Field(min_length=1, max_length=4000, description="the joint evaluation of its effect")
    effective: bool = True


# --- answers -------------------------------------------------------------------------------------


class LinkedCaseOut(BaseModel):
    case_id: uuid.UUID
    kind: str
    case_state: str
    link_reason: str
    linked_at: datetime
    unit: str | None
    defect_kind: str | None
    link_score: float | None = None  # 0..1 (place and defect kind); none for the case that opened the order
    link_explanation: str | None = None  # the score's reason, in Chinese
    shared_part: str | None = None  # the shared part the report names (外墙, 屋面, 地下车库, 电梯, 楼道)


class WorkOrderStepOut(BaseModel):
    step: str
    previous_state: str
    state: str
    actor: str
    at: datetime
    note: str | None
    details: dict[str, Any]
    client_step_id: str | None


class PhotoOut(BaseModel):
    ref: str
    added_by: str
    added_at: datetime


class WorkOrderOut(BaseModel):
    work_order_id: uuid.UUID
    state: str
    version: int
    origin: str
    project_id: str
    org_path: str
    defect_kind: str
    vocabulary_version: str
    building: str | None
    unit: str | None
    requested_at: datetime
    warranty_status: str
    warranty_end: date | None
    warranty_explanation: str
    in_warranty: bool
    in_scope: bool | None
    chargeable: bool
    quoted_fee: Decimal | None
    fee_confirmed_at: datetime | None
    respond_by: datetime | None
    responded_at: datetime | None
    customer_requested_by: datetime | None
    due_at: datetime | None
    assignee: str | None
    investigation: dict[str, Any] | None
    plan: dict[str, Any] | None
    work_done_at: datetime | None
    self_inspected_at: datetime | None
    rework_count: int
    last_rejection_reason: str | None
    accepted_at: datetime | None
    owner_signature_ref: str | None
    owner_signer_role: str | None
    contractor_signature_ref: str | None
    contractor_signer: str | None
    archived_at: datetime | None
    quality_verified_at: datetime | None
    quality_verified_by: str | None
    quality_verification_passed: bool | None
    remediation_id: uuid.UUID | None
    case_count: int
    allowed_steps: list[str]


class WorkOrderDetailOut(WorkOrderOut):
    cases: list[LinkedCaseOut]
    steps: list[WorkOrderStepOut]
    photos: list[PhotoOut]


class RemediationStepOut(BaseModel):
    step: str
    previous_state: str
    state: str
    actor: str
    at: datetime
    note: str | None
    details: dict[str, Any]


class RemediationOut(BaseModel):
    remediation_id: uuid.UUID
    state: str
    project_id: str
    org_path: str
    defect_kind: str
    occurrences: int
    threshold: int
    window_days: int
    detected_at: datetime
    plan: str | None
    responsible_department: str | None
    due_at: datetime | None
    implemented_at: datetime | None
    accepted_at: datetime | None
    representative_role: str | None
    signature_ref: str | None
    evaluation: str | None
    effective: bool | None
    allowed_steps: list[str]


class RemediationDetailOut(RemediationOut):
    work_order_ids: list[uuid.UUID]
    steps: list[RemediationStepOut]


class ProjectOut(BaseModel):
    project_id: str
    name: str
    stage: str
    completion_date: date | None
    warranty_end: date | None
    revision: int


def _org_path(row: Any) -> str:
    return service.org_of(row).as_path()


def work_order_out(work_order: WorkOrder, *, case_count: int) -> dict[str, Any]:
    w = work_order
    return dict(
        work_order_id=w.id, state=w.status, version=w.version, origin=w.origin, project_id=w.project_id,
        org_path=_org_path(w), defect_kind=w.defect_kind, vocabulary_version=w.vocabulary_version,
        building=w.building, unit=w.unit, requested_at=w.requested_at, warranty_status=w.warranty_status,
        warranty_end=w.warranty_end, warranty_explanation=w.warranty_explanation, in_warranty=w.in_warranty,
        in_scope=w.in_scope, chargeable=w.chargeable, quoted_fee=w.quoted_fee, fee_confirmed_at=w.fee_confirmed_at,
        respond_by=w.respond_by, responded_at=w.responded_at, customer_requested_by=w.customer_requested_by,
        due_at=w.due_at, assignee=w.assignee, investigation=w.investigation, plan=w.plan,
        work_done_at=w.work_done_at, self_inspected_at=w.self_inspected_at, rework_count=w.rework_count,
        last_rejection_reason=w.last_rejection_reason, accepted_at=w.accepted_at,
        owner_signature_ref=w.owner_signature_ref, owner_signer_role=w.owner_signer_role,
        contractor_signature_ref=w.contractor_signature_ref, contractor_signer=w.contractor_signer,
        archived_at=w.archived_at, quality_verified_at=w.quality_verified_at,
        quality_verified_by=w.quality_verified_by, quality_verification_passed=w.quality_verification_passed,
        remediation_id=w.remediation_id, case_count=case_count,
        allowed_steps=[s.value for s in allowed_steps(WorkOrderState(w.status),
                                                      quality_verified=w.quality_verified_at is not None)],
    )


def remediation_out(item: RemediationItem) -> dict[str, Any]:
    return dict(
        remediation_id=item.id, state=item.status, project_id=item.project_id, org_path=_org_path(item),
        defect_kind=item.defect_kind, occurrences=item.occurrences, threshold=item.threshold,
        window_days=item.window_days, detected_at=item.detected_at, plan=item.plan,
        responsible_department=item.responsible_department, due_at=item.due_at,
        implemented_at=item.implemented_at, accepted_at=item.accepted_at,
        representative_role=item.representative_role, signature_ref=item.signature_ref, evaluation=item.evaluation,
        effective=item.effective,
        allowed_steps=[s.value for s in allowed_remediation_steps(RemediationState(item.status))],
    )


async def work_order_detail(uow: UnitOfWork, work_order: WorkOrder) -> WorkOrderDetailOut:
    cases = await service.linked_cases(work_order.id, uow=uow)
    return WorkOrderDetailOut(
        **work_order_out(work_order, case_count=len(cases)),
        cases=[LinkedCaseOut(case_id=c.case_id, kind=c.kind, case_state=c.status, link_reason=c.link_reason,
                             linked_at=c.linked_at, unit=c.unit, defect_kind=c.defect_kind,
                             link_score=c.link_score, link_explanation=c.link_explanation,
                             shared_part=part.label if (part := domain.shared_part(c.shared_part)) else None)
               for c in cases],
        steps=[WorkOrderStepOut(step=s.step, previous_state=s.previous_state, state=s.state, actor=s.actor, at=s.at,
                                note=s.note, details=s.details or {}, client_step_id=s.client_step_id)
               for s in await service.steps_of(work_order.id, uow=uow)],
        photos=[PhotoOut(ref=p.ref, added_by=p.added_by, added_at=p.added_at)
                for p in await service.photos_of(work_order.id, uow=uow)],
    )


async def remediation_detail(uow: UnitOfWork, item: RemediationItem) -> RemediationDetailOut:
    orders, steps = await service.remediation_details(item.id, uow=uow)
    return RemediationDetailOut(
        **remediation_out(item), work_order_ids=orders,
        steps=[RemediationStepOut(step=s.step, previous_state=s.previous_state, state=s.state, actor=s.actor,
                                  at=s.at, note=s.note, details=s.details or {}) for s in steps],
    )


def _fingerprint(endpoint: str, body: BaseModel) -> str:
    content = body.model_dump(mode="json", exclude={"client_step_id"})
    canonical = json.dumps({"endpoint": endpoint, "body": content}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_key(header: str | None, body: StepIn) -> str | None:
    if header is not None and not 1 <= len(header) <= 128:
        raise HTTPException(422, {"error": "validation_failed", "fields": [
            {"field": f"header.{IDEMPOTENCY_HEADER}", "reason": "1 to 128 characters", "type": "value_error"}]})
    if header and body.client_step_id and header != body.client_step_id:
        raise HTTPException(422, {"error": "validation_failed", "fields": [
            {"field": "client_step_id", "reason": f"differs from the {IDEMPOTENCY_HEADER} header",
             "type": "value_error"}]})
    return header or body.client_step_id


# Who may do what to warranty repairs (docs/domain.md §4), each only inside their org units.
READ = require(Role.SITE_TEAM, Role.HANDLER, Role.QUALITY, Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER,
               Role.EXECUTIVE, Role.ADMINISTRATOR)
REPAIR = require(Role.SITE_TEAM, Role.HANDLER, Role.QUALITY, Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR)
QUALITY_ONLY = require(Role.QUALITY, Role.ADMINISTRATOR)
# Remediation of recurring defects is company-level work led by the quality department.
REMEDIATE = require(Role.QUALITY, Role.HANDLER, Role.SITE_TEAM, Role.ADMINISTRATOR)


def _caller_sees(record: Any) -> bool:
    access = current_access()
    return access is not None and access.principal.may_see_org(record.org_group, record.org_subsidiary,
                                                                record.org_project)


def build_router(*, uow_factory: UnitOfWorkFactory, deps: service.RepairCollaborators) -> APIRouter:
    router = APIRouter(tags=["repairs"])

    async def ensure_visible(scope: str, uow: UnitOfWork) -> None:
        """A work order or remediation outside the caller's org units answers 404, like an unknown one."""
        kind, _, raw_id = scope.partition(":")
        record_id = uuid.UUID(raw_id)
        found = (await service.get_work_order(record_id, uow=uow) if kind == "work_order"
                 else await service.get_remediation(record_id, uow=uow))
        if found is None or not _caller_sees(found):
            raise HTTPException(404, {"error": "not_found", "id": raw_id})

    async def run(
        scope: str, endpoint: str, body: StepIn, key_header: str | None,
        use_case: Callable[[UnitOfWork, str | None], Awaitable[Any]],
        answer: Callable[[UnitOfWork], Awaitable[BaseModel]],
    ) -> JSONResponse:
        """One step in one transaction with its idempotency key and its stored answer."""
        key = _idempotency_key(key_header, body)
        try:
            async with uow_factory() as uow:
                await ensure_visible(scope, uow)
                if key is not None:
                    stored = await service.replay(scope, key, _fingerprint(endpoint, body), uow=uow)
                    if stored is not None:
                        status, content = stored
                        return JSONResponse(content, status_code=status, headers={"Idempotent-Replayed": "true"})
                await use_case(uow, key)
                await uow.session.flush()
                content = (await answer(uow)).model_dump(mode="json")
                if key is not None:
                    await service.remember(scope, key, 200, content, uow=uow)
                await uow.commit()
            return JSONResponse(content)
        except (service.WorkOrderNotFound, service.RemediationNotFound) as exc:
            raise HTTPException(404, {"error": "not_found", "id": str(exc)}) from exc
        except StepRefused as exc:
            raise HTTPException(409, {
                "error": "invalid_step", "step": exc.step.value, "state": exc.state.value,
                "reason": pick(exc.reason, exc.reason_en), "state_name": name_of("work_order_state", exc.state.value),
                "allowed_steps": [s.value for s in exc.allowed],
            }) from exc
        except RemediationRefused as exc:
            raise HTTPException(409, {
                "error": "invalid_step", "step": exc.step.value, "state": exc.state.value,
                "reason": pick(exc.reason, exc.reason_en), "state_name": name_of("remediation_state", exc.state.value),
                "allowed_steps": [s.value for s in allowed_remediation_steps(exc.state)],
            }) from exc
        except StepInvalid as exc:
            raise HTTPException(422, {"error": "validation_failed", "fields": [
                {"field": exc.field, "reason": exc.reason, "type": "value_error"}]}) from exc
        except service.IdempotencyKeyReused as exc:
            raise HTTPException(422, {
                "error": "idempotency_key_reused", "key": str(exc),
                "reason": "this key was used for a different request; use a new key for a new step",
            }) from exc

    def work_order_step(
        path: str, body_type: type[StepIn], use_case: Callable[..., Awaitable[Any]], summary: str,
        arguments: Callable[[Any], dict[str, Any]] = lambda body: {},
    ) -> None:
        async def endpoint(work_order_id: uuid.UUID, body: body_type,  # type: ignore[valid-type]
                           idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)
                           ) -> JSONResponse:
            async def apply(uow: UnitOfWork, key: str | None) -> None:
                extra = {"photos": body.photos} if isinstance(body, WithPhotos) else {}
                await use_case(work_order_id, actor=body.actor, note=body.note, client_step_id=key, uow=uow,
                               deps=deps, **extra, **arguments(body))

            async def answer(uow: UnitOfWork) -> BaseModel:
                work_order = await service.get_work_order(work_order_id, uow=uow)
                assert work_order is not None
                return await work_order_detail(uow, work_order)

            return await run(f"work_order:{work_order_id}", path, body, idempotency_key, apply, answer)

        endpoint.__annotations__["body"] = body_type  # the body's model differs per step
        router.add_api_route(f"/api/v1/work-orders/{{work_order_id}}/{path}", endpoint, methods=["POST"],
                             response_model=WorkOrderDetailOut, summary=summary,
                             dependencies=[Depends(QUALITY_ONLY if path == "quality-verification" else REPAIR)])

    @router.get("/api/v1/work-orders", response_model=list[WorkOrderOut])
    async def find(caller: Annotated[Principal, Depends(READ)], page: Annotated[Page, Depends()], assignee: str | None = None, state: WorkOrderState | None = None, project_id: str | None = None,
                   case_id: uuid.UUID | None = None, open: bool = False, overdue: bool = False) -> list[WorkOrderOut]:
        """My work orders (``?assignee=``), by state, project or case; ``?overdue=true`` for a missed
        24-hour response or a missed due time."""
        async with uow_factory() as uow:
            orders = await service.find_work_orders(
                uow=uow, assignee=assignee, state=state.value if state else None, project_id=project_id,
                case_id=case_id, open_only=open, overdue_at=deps.clock() if overdue else None,
                visible=org_columns_clause(caller, WorkOrder.org_group, WorkOrder.org_subsidiary, WorkOrder.org_project))
            orders = page.of(orders)
            counts = await service.case_counts([o.id for o in orders], uow=uow)
        return [WorkOrderOut(**work_order_out(o, case_count=counts.get(o.id, 0))) for o in orders]

    @router.get("/api/v1/work-orders/{work_order_id}", response_model=WorkOrderDetailOut, dependencies=[Depends(READ)])
    async def get(work_order_id: uuid.UUID) -> WorkOrderDetailOut:
        async with uow_factory() as uow:
            work_order = await service.get_work_order(work_order_id, uow=uow)
            if work_order is None or not _caller_sees(work_order):
                raise HTTPException(404, {"error": "not_found", "id": str(work_order_id)})
            return await work_order_detail(uow, work_order)

    work_order_step("assignment", AssignIn, service.assign, "Name the site team member who owns the work order",
                    lambda b: {"assignee": b.assignee})
    work_order_step("investigation", InvestigationIn, service.investigate,
                    "Site investigation: nature, cause, responsibility (the 24-hour service's response)",
                    lambda b: {"nature": b.nature, "cause": b.cause, "responsibility": b.responsibility,
                               "in_scope": b.in_scope})
    work_order_step("plan", PlanIn, service.agree_plan,
                    "Repair plan agreed with the owner: scope, duration, cost, resources (and the fee if chargeable)",
                    lambda b: {"scope": b.scope, "duration_hours": b.duration_hours, "cost": b.cost,
                               "resources": b.resources, "planned_finish": b.planned_finish,
                               "customer_requested_by": b.customer_requested_by, "quoted_fee": b.quoted_fee,
                               "agreed_with": b.agreed_with})
    work_order_step("fee-decision", FeeDecisionIn, service.decide_fee,
                    "The customer confirms (or declines) the quoted fee; no work before a confirmation",
                    lambda b: {"confirmed": b.confirmed, "decided_by": b.decided_by, "reason": b.reason})
    work_order_step("work-done", WithPhotos, service.complete_work, "The work is done as planned")
    work_order_step("self-inspection", InspectionIn, service.self_inspect,
                    "Self-inspection; a failed one sends the order to rework",
                    lambda b: {"passed": b.passed, "findings": b.findings})
    work_order_step("joint-acceptance", JointAcceptanceIn, service.joint_acceptance,
                    "Joint acceptance with the owner, signed by both (联合验收并会签); refused → rework",
                    lambda b: {"accepted": b.accepted, "owner_signature_ref": b.owner_signature_ref,
                               "owner_signer_role": b.owner_signer_role,
                               "owner_signer_customer_id": b.owner_signer_customer_id,
                               "contractor_signature_ref": b.contractor_signature_ref,
                               "contractor_signer": b.contractor_signer, "reason": b.reason})
    work_order_step("archive", StepIn, service.archive, "Archive an accepted work order")
    work_order_step("quality-verification", VerificationIn, service.verify_quality,
                    "The quality department's verification",
                    lambda b: {"passed": b.passed, "findings": b.findings, "department": b.department})
    work_order_step("photos", PhotosIn, service.attach_photos, "Attach photo references (object keys or URLs)",
                    lambda b: {"photos": b.photos})

    # --- remediation of recurring defects --------------------------------------------------------

    @router.get("/api/v1/remediations", response_model=list[RemediationOut])
    async def remediations(caller: Annotated[Principal, Depends(READ)], page: Annotated[Page, Depends()],
                           project_id: str | None = None,
                           state: RemediationState | None = None) -> list[RemediationOut]:
        async with uow_factory() as uow:
            items = await service.find_remediations(
                uow=uow, project_id=project_id, state=state.value if state else None,
                visible=org_columns_clause(caller, RemediationItem.org_group, RemediationItem.org_subsidiary,
                                           RemediationItem.org_project))
        return [RemediationOut(**remediation_out(i)) for i in page.of(items)]

    @router.get("/api/v1/remediations/{remediation_id}", response_model=RemediationDetailOut,
                dependencies=[Depends(READ)])
    async def remediation(remediation_id: uuid.UUID) -> RemediationDetailOut:
        async with uow_factory() as uow:
            item = await service.get_remediation(remediation_id, uow=uow)
            if item is None or not _caller_sees(item):
                raise HTTPException(404, {"error": "not_found", "id": str(remediation_id)})
            return await remediation_detail(uow, item)

    def remediation_step(path: str, body_type: type[StepIn], use_case: Callable[..., Awaitable[Any]], summary: str,
                         arguments: Callable[[Any], dict[str, Any]]) -> None:
        async def endpoint(remediation_id: uuid.UUID, body: body_type,  # type: ignore[valid-type]
                           idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)
                           ) -> JSONResponse:
            async def apply(uow: UnitOfWork, key: str | None) -> None:
                await use_case(remediation_id, actor=body.actor, uow=uow, deps=deps, **arguments(body))

            async def answer(uow: UnitOfWork) -> BaseModel:
                item = await service.get_remediation(remediation_id, uow=uow)
                assert item is not None
                return await remediation_detail(uow, item)

            return await run(f"remediation:{remediation_id}", path, body, idempotency_key, apply, answer)

        endpoint.__annotations__["body"] = body_type
        router.add_api_route(f"/api/v1/remediations/{{remediation_id}}/{path}", endpoint, methods=["POST"],
                             response_model=RemediationDetailOut, summary=summary, dependencies=[Depends(REMEDIATE)])

    remediation_step("plan", RemediationPlanIn, service.plan_remediation,
                     "The company-level remediation plan for a recurring defect (质量通病)",
                     lambda b: {"plan": b.plan, "responsible_department": b.responsible_department,
                                "due_at": b.due_at, "note": b.note})
    remediation_step("completion", StepIn, service.complete_remediation, "The remediation is carried out",
                     lambda b: {"note": b.note})
    remediation_step("acceptance", RemediationAcceptanceIn, service.accept_remediation,
                     "Accepted and evaluated with the customer's representative; refused → planned again",
                     lambda b: {"accepted": b.accepted, "representative_role": b.representative_role,
                                "representative_customer_id": b.representative_customer_id,
                                "signature_ref": b.signature_ref, "evaluation": b.evaluation,
                                "effective": b.effective})

    @router.get("/api/v1/repair-projects/{project_id}", response_model=ProjectOut, dependencies=[Depends(READ)])
    async def project(project_id: str) -> ProjectOut:
        """Routing's copy of a project (from intake's ProjectRegistered): what the warranty check uses."""
        async with uow_factory() as uow:
            found = await service.get_project(project_id, uow=uow)
        if found is None or not _caller_sees(found):
            raise HTTPException(404, {"error": "not_found", "project_id": project_id})
        return ProjectOut(project_id=found.project_id, name=found.name, stage=found.stage,
                          completion_date=found.completion_date, warranty_end=found.warranty_end,
                          revision=found.revision)

    return router

