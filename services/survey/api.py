"""Survey's HTTP routes (JSON): returned forms entered by staff, templates and their versions,
campaigns, project service evaluations, invitations, refused forms. The household's survey page
is in ``page.py``."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.survey import campaign_service, domain, evaluation_service, registry, return_visits, service
from services.survey.domain import AnswersRefused, TemplateDefinition
from services.survey.models import Evaluation
from shared.auth import EVERYONE, Role, current_access, require
from shared.auth.audit import record_personal_data_read
from shared.auth.scoping import org_columns_clause
from shared.db import UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.vocabulary import SurveyScheme
from shared.http import correlation_id_of
from shared.i18n import pick
from shared.labels import name_of
from shared.pagination import Page


def _refused(exc: AnswersRefused, status_code: int = 422) -> HTTPException:
    error = "validation_failed" if exc.code == "invalid_answers" else exc.code
    return HTTPException(status_code, {"error": error, "fields": [{"field": p.field, "reason": p.for_people()}
                                                                  for p in exc.problems]})


def _one(status_code: int, error: str, field: str, reason: str, reason_en: str | None = None) -> HTTPException:
    """One field's refusal; ``reason`` is Chinese, ``reason_en`` English (``?lang=en``)."""
    return HTTPException(status_code, {"error": error, "fields": [{"field": field, "reason": pick(reason, reason_en)}]})


#: What a record is called in Chinese, by its id field without '_id'.
_RECORD_ZH = {"invitation": "邀请", "project": "项目", "campaign": "调查活动", "response": "答卷", "case": "案件",
              "evaluation": "评价", "template": "模板"}


# --- schemas ----------------------------------------------------------------------------------


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=64)
    level: str | None = Field(default=None, max_length=32, description="None for an unanswered item")
    deduction: Decimal | None = Field(default=None, description="scheme C 'hazard': 5–10 points on the item")
    remark: str | None = Field(default=None, max_length=2000)

    def answer(self) -> domain.Answer:
        return domain.Answer(self.item_id, self.level, self.deduction, self.remark)


class SurveyResponseIn(BaseModel):
    """A returned form entered by staff (paper, phone). With ``invitation_id`` it uses that
    invitation (a numbered paper form of a campaign, or a return visit done by phone)."""

    model_config = ConfigDict(extra="forbid")
    template_id: str | None = Field(default=None, min_length=1, max_length=64)
    template_version: int | None = Field(default=None, ge=1, description="the current version when left out")
    scheme: SurveyScheme | None = Field(default=None, description="checked against the template when given")
    org: OrgPath | None = None
    project_id: str | None = Field(default=None, max_length=64)
    unit_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    invitation_id: uuid.UUID | None = None
    channel: Literal["web", "paper", "phone"] = "paper"
    returned_at: AwareDatetime | None = None
    hazard_deduction: Decimal | None = None
    entered_by: str | None = Field(default=None, max_length=64)
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


class SurveyResponseAccepted(BaseModel):
    response_id: uuid.UUID
    correlation_id: uuid.UUID
    template_id: str | None = None
    template_version: int | None = None
    score: float | None = None
    satisfied: bool | None = None
    feedback_sent: list[str] = []


class TemplateIn(TemplateDefinition):
    template_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    created_by: str | None = Field(default=None, max_length=64)


class TemplateVersionIn(TemplateDefinition):
    created_by: str | None = Field(default=None, max_length=64)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64)
    template_id: str = Field(default="household-satisfaction", min_length=1, max_length=64)
    template_version: int | None = Field(default=None, ge=1)
    round: Literal["semiannual", "annual"] = "semiannual"
    rule: Literal["occupancy", "age"] = "occupancy"
    period: str | None = Field(default=None, max_length=16, description="'2026H1', '2026H2', '2026'")
    delivery: Literal["link", "paper"] = "link"
    seed: str | None = Field(default=None, min_length=1, max_length=128)
    starts_at: AwareDatetime | None = None


class HandedOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invitation_ids: list[uuid.UUID] | None = Field(default=None, description="all still held when left out")


class SheetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)
    hazard_deduction: Decimal | None = None
    evaluated_on: date | None = None
    entered_by: str | None = Field(default=None, max_length=64)
    meets_basic_conditions: bool = Field(
        default=False, description="seed 003 5.5.2's unnamed basic conditions, as judged by the evaluator")
    template_version: int | None = Field(default=None, ge=1)


def _template_out(t: domain.Template) -> dict[str, Any]:
    return {"template_id": t.template_id, "version": t.version,
            **t.definition.model_dump(mode="json", exclude_none=True),
            "scheme_name": name_of("scheme", t.definition.scheme.value)}


def _invitation_out(i: Any) -> dict[str, Any]:
    return {"invitation_id": str(i.id), "purpose": i.purpose, "template_id": i.template_id,
            "template_version": i.template_version, "delivery": i.delivery,
            "case_id": str(i.case_id) if i.case_id else None,
            "work_order_id": str(i.work_order_id) if i.work_order_id else None,
            "campaign_id": str(i.campaign_id) if i.campaign_id else None, "project_id": i.project_id,
            "unit_id": str(i.unit_id) if i.unit_id else None,
            "household_id": str(i.household_id) if i.household_id else None,
            "issued_at": i.issued_at.isoformat(), "expires_at": i.expires_at.isoformat(),
            "handed_out_at": i.handed_out_at.isoformat() if i.handed_out_at else None,
            "used_at": i.used_at.isoformat() if i.used_at else None,
            "response_id": str(i.response_id) if i.response_id else None, "reminders_sent": i.reminders_sent}


async def _campaign_out(campaign: Any, uow: Any) -> dict[str, Any]:
    p = await campaign_service.progress(campaign, uow=uow)
    return {
        "campaign_id": str(campaign.id), "project_id": campaign.project_id, "round": campaign.round,
        "rule": campaign.rule, "period": campaign.period, "template_id": campaign.template_id,
        "template_version": campaign.template_version, "delivery": campaign.delivery, "seed": campaign.seed,
        "status": campaign.status, "status_name": name_of("campaign_status", campaign.status),
        "starts_at": campaign.starts_at.isoformat(),
        "hand_out_by": campaign.hand_out_by.isoformat(), "collect_by": campaign.collect_by.isoformat(),
        "occupied_units": campaign.occupied_units, "households": campaign.households,
        "required": campaign.required, "carried_over": campaign.carried_over, "drawn": campaign.drawn,
        "handed_out": p.handed_out, "returned": p.returned, "refused": p.refused,
        "return_rate": domain.as_jsonable(p.return_rate), "return_target_percent": float(campaign.return_target),
        "return_ok": p.return_ok, "distribution_ok": p.distribution_ok, "buildings": p.per_building,
        "results": campaign.results,
    }


# Who may do what with surveys (docs/domain.md §5). The household's own page (page.py) needs no token:
# its one-time link is the credential.
ENTER_FORMS = require(Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.QUALITY, Role.ADMINISTRATOR, Role.SYSTEM)
READ_RESULTS = require(Role.QUALITY, Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.EXECUTIVE, Role.ADMINISTRATOR)
READ_TEMPLATES = require(*EVERYONE)
DESIGN = require(Role.QUALITY, Role.ADMINISTRATOR)
RETURN_VISITS = require(Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.QUALITY, Role.ADMINISTRATOR)
RUN_CAMPAIGNS = require(Role.QUALITY, Role.CUSTOMER_MANAGER, Role.ADMINISTRATOR)
HAND_OUT = require(Role.QUALITY, Role.CUSTOMER_MANAGER, Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR)
READ_PROJECTS = require(Role.QUALITY, Role.CUSTOMER_MANAGER, Role.EXECUTIVE, Role.HANDLER, Role.ADMINISTRATOR)
EVALUATE = require(Role.QUALITY, Role.CUSTOMER_MANAGER, Role.ADMINISTRATOR)
#: The delivery channel (SMS / WeChat sender) fetching one-time links: machine clients only.
DELIVER_LINKS = require(Role.SYSTEM)


def _caller_sees(record: Any) -> bool:
    """Whether the caller may see a record filed under an org path (unknown caller: no)."""
    access = current_access()
    return access is not None and access.principal.may_see_org(record.org_group, record.org_subsidiary,
                                                                record.org_project)


def invitation_org_path(invitation: Any) -> str:
    return "/".join(p for p in (invitation.org_group, invitation.org_subsidiary, invitation.org_project) if p)


def _refusal_reasons(row: Any) -> dict[str, Any]:
    reason, problems = service.refusal_for_people(row)
    return {"reason": reason, "problems": problems}


def _outside(field: str, key: object) -> HTTPException:
    # Outside the caller's org units a record does not exist for them.
    noun = field.removesuffix("_id")
    return _one(404, "not_found", field, f"没有这个{_RECORD_ZH.get(noun, noun)}：{key}", f"no such {noun}: {key}")


def build_router(*, uow_factory: UnitOfWorkFactory, deps: service.Deps) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["survey"])
    clock = deps.clock

    async def ensure_project_visible(project_id: str, uow: Any) -> None:
        project = await registry.get_project(project_id, uow=uow)
        if project is not None and not _caller_sees(project):
            raise _outside("project_id", project_id)

    # --- returned forms entered by staff --------------------------------------------------------

    @router.post("/survey-responses", dependencies=[Depends(ENTER_FORMS)], status_code=status.HTTP_201_CREATED, response_model=SurveyResponseAccepted)
    async def post_response(body: SurveyResponseIn, request: Request) -> SurveyResponseAccepted:
        correlation_id = correlation_id_of(request)
        answers = [a.answer() for a in body.answers]
        command: service.RecordResponse | None = None
        invitation = None
        try:
            async with uow_factory() as uow:
                if body.invitation_id is not None:
                    invitation = await service.get_invitation(body.invitation_id, uow=uow, for_update=True)
                    if invitation is None:
                        raise AnswersRefused.one("unknown_invitation", "invitation_id", "没有这个邀请", "no such invitation")
                    if not _caller_sees(invitation):
                        raise _outside("invitation_id", body.invitation_id)
                    command = service.command_for_invitation(
                        invitation, answers, channel=body.channel, correlation_id=correlation_id,
                        returned_at=body.returned_at, entered_by=body.entered_by)
                    recorded = await service.answer_invitation(
                        invitation, answers, uow=uow, deps=deps, channel=body.channel,
                        returned_at=body.returned_at, entered_by=body.entered_by)
                else:
                    missing = [f for f in ("template_id", "org") if getattr(body, f) is None]
                    if missing:
                        raise AnswersRefused("validation_failed", [
                            domain.Problem(f, "没有 invitation_id 时必填", "required without an invitation_id")
                            for f in missing])
                    assert body.template_id is not None and body.org is not None
                    access = current_access()
                    if access is None or not access.principal.may_see(body.org.as_path()):
                        raise HTTPException(403, {"error": "out_of_scope",
                                                  "reason": pick("该组织不在你的组织范围内",
                                                                 "this org unit is outside your org units")})
                    command = service.RecordResponse(
                        template_id=body.template_id, template_version=body.template_version, scheme=body.scheme,
                        org=body.org, project_id=body.project_id, unit_id=body.unit_id,
                        household_id=body.household_id, case_id=body.case_id, campaign_id=body.campaign_id,
                        channel=body.channel, returned_at=body.returned_at, answers=answers,
                        hazard_deduction=body.hazard_deduction, entered_by=body.entered_by,
                        correlation_id=correlation_id, return_visit=body.case_id is not None,
                    )
                    recorded = await service.record_response(command, uow=uow, deps=deps)
                await uow.commit()
        except AnswersRefused as exc:
            async with uow_factory() as uow:
                await service.record_refusal(exc, uow=uow, clock=clock, channel=body.channel, cmd=command,
                                             invitation=invitation, submitted=answers, correlation_id=correlation_id)
                await uow.commit()
            gone = exc.code in ("token_used", "token_expired", "campaign_closed")
            raise _refused(exc, status.HTTP_409_CONFLICT if gone else 422) from exc
        template, scored = recorded.template, recorded.scored
        return SurveyResponseAccepted(
            response_id=recorded.response_id, correlation_id=correlation_id,
            template_id=template.template_id if template else None,
            template_version=template.version if template else None,
            score=domain.as_jsonable(scored.score) if scored else None,
            satisfied=scored.satisfied if scored else None, feedback_sent=list(recorded.feedback),
        )

    @router.get("/survey-responses/{response_id}", dependencies=[Depends(READ_RESULTS)])
    async def get_response(response_id: uuid.UUID) -> dict[str, Any]:
        async with uow_factory() as uow:
            r = await service.get_response(response_id, uow=uow)
        if r is None or not _caller_sees(r):
            raise _one(404, "not_found", "response_id", "没有这份答卷", "no such response")
        return {"response_id": str(r.id), "template_id": r.template_id, "template_version": r.template_version,
                "template_registered": r.template_registered, "scheme": r.scheme, "channel": r.channel,
                "project_id": r.project_id, "answers": r.answers, "score": r.score, "satisfied": r.satisfied,
                "case_id": str(r.case_id) if r.case_id else None,
                "campaign_id": str(r.campaign_id) if r.campaign_id else None,
                "household_id": str(r.household_id) if r.household_id else None,
                "returned_at": r.returned_at.isoformat()}

    @router.get("/refused-answers", dependencies=[Depends(READ_RESULTS)])
    async def get_refusals(campaign_id: uuid.UUID | None = None,
                           limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        access = current_access()
        principal = access.principal if access is not None else None

        def visible(group: Any, subsidiary: Any, project: Any) -> Any:
            # the caller's org units only; nobody's refusals without a known caller
            return org_columns_clause(principal, group, subsidiary, project) if principal else sa.false()

        async with uow_factory() as uow:
            rows = await service.refusals(uow=uow, limit=limit, campaign_id=campaign_id, visible=visible)
        return [{"id": r.id, "refused_at": r.refused_at.isoformat(), "channel": r.channel,
                 "reason_code": r.reason_code, **_refusal_reasons(r),
                 "template_id": r.template_id, "invitation_id": str(r.invitation_id) if r.invitation_id else None,
                 "campaign_id": str(r.campaign_id) if r.campaign_id else None, "source_system": r.source_system,
                 "external_id": r.external_id} for r in rows]

    # --- templates ------------------------------------------------------------------------------

    @router.get("/templates", dependencies=[Depends(READ_TEMPLATES)])
    async def get_templates(page: Annotated[Page, Depends()]) -> list[dict[str, Any]]:
        async with uow_factory() as uow:
            templates = await service.list_templates(uow)
            await uow.commit()
        return [_template_out(t) for t in page.of(templates)]

    @router.get("/templates/{template_id}", dependencies=[Depends(READ_TEMPLATES)])
    async def get_template(template_id: str, version: int | None = Query(default=None, ge=1)) -> dict[str, Any]:
        async with uow_factory() as uow:
            try:
                template = await service.load_template(uow, template_id, version)
                await uow.commit()  # a built-in may have been written just now
            except service.TemplateNotFound as exc:
                raise _one(404, "not_found", "template_id", exc.for_people()) from exc
        return _template_out(template)

    @router.post("/templates", dependencies=[Depends(DESIGN)], status_code=status.HTTP_201_CREATED)
    async def post_template(body: TemplateIn) -> dict[str, Any]:
        definition = TemplateDefinition.model_validate(body.model_dump(exclude={"template_id", "created_by"}))
        async with uow_factory() as uow:
            try:
                template = await service.create_template(body.template_id, definition, uow=uow, clock=clock,
                                                         created_by=body.created_by)
            except service.TemplateConflict as exc:
                raise _one(409, "already_registered", "template_id", exc.for_people()) from exc
            await uow.commit()
        return _template_out(template)

    @router.put("/templates/{template_id}", dependencies=[Depends(DESIGN)])
    async def put_template(template_id: str, body: TemplateVersionIn) -> dict[str, Any]:
        """A new version when the definition changed (responses keep recording their own version)."""
        definition = TemplateDefinition.model_validate(body.model_dump(exclude={"created_by"}))
        async with uow_factory() as uow:
            try:
                template, created = await service.version_template(template_id, definition, uow=uow, clock=clock,
                                                                   created_by=body.created_by)
            except service.TemplateNotFound as exc:
                raise _one(404, "not_found", "template_id", exc.for_people()) from exc
            await uow.commit()
        return {**_template_out(template), "created": created}

    # --- invitations and return visits ----------------------------------------------------------

    @router.get("/invitations", dependencies=[Depends(RETURN_VISITS)])
    async def get_invitations(case_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None,
                              limit: int = Query(default=2000, ge=1, le=10_000)) -> list[dict[str, Any]]:
        async with uow_factory() as uow:
            rows = await service.find_invitations(uow=uow, case_id=case_id, campaign_id=campaign_id, limit=limit)
        return [_invitation_out(i) for i in rows if _caller_sees(i)]

    @router.get("/invitations/{invitation_id}/link", dependencies=[Depends(DELIVER_LINKS)])
    async def get_invitation_link(invitation_id: uuid.UUID) -> dict[str, Any]:
        """The one-time link of an invitation, for the delivery channel (a SYSTEM client whose org
        scope holds the invitation). No event carries the link; each read leaves an audit row."""
        async with uow_factory() as uow:
            invitation = await service.get_invitation(invitation_id, uow=uow)
        if invitation is None or not _caller_sees(invitation):
            raise _outside("invitation_id", invitation_id)
        link = service.invitation_link(invitation, deps)
        if link is None:
            raise _one(410, "link_not_recoverable", "invitation_id", "此邀请的链接无法再次取得（签发于链接密钥更换之前）",
                       "this invitation's link cannot be fetched again (issued before the link key changed)")
        access = current_access()
        assert access is not None
        await record_personal_data_read(uow_factory, access.principal, what="survey link",
                                        resources=[str(invitation_id)], fields=["link"],
                                        org_path=invitation_org_path(invitation))
        return {"invitation_id": str(invitation_id), "link": link, "expires_at": invitation.expires_at.isoformat(),
                "used": invitation.used_at is not None}

    @router.get("/cases/{case_id}/return-visit", dependencies=[Depends(RETURN_VISITS)])
    async def get_return_visit(case_id: uuid.UUID) -> dict[str, Any]:
        async with uow_factory() as uow:
            case, invitation = await return_visits.return_visit_of(case_id, uow=uow)
        if case is None or not _caller_sees(case):
            raise _one(404, "not_found", "case_id", "满意度调查尚未收到这个案件的任何消息",
                       "survey has heard nothing of this case")
        return {"case_id": str(case_id), "important": case.important, "result_accepted": case.accepted_at is not None,
                "decision": case.decision, "invitation": _invitation_out(invitation) if invitation else None}

    # --- campaigns ------------------------------------------------------------------------------

    @router.post("/campaigns", dependencies=[Depends(RUN_CAMPAIGNS)], status_code=status.HTTP_201_CREATED)
    async def post_campaign(body: CampaignIn, request: Request) -> dict[str, Any]:
        command = campaign_service.PlanCampaign(
            project_id=body.project_id, template_id=body.template_id, template_version=body.template_version,
            round=body.round, rule=body.rule, period=body.period, delivery=body.delivery, seed=body.seed,
            starts_at=body.starts_at, correlation_id=correlation_id_of(request))
        async with uow_factory() as uow:
            await ensure_project_visible(body.project_id, uow)
            try:
                campaign = await campaign_service.plan_campaign(command, uow=uow, deps=deps)
            except campaign_service.CampaignRefused as exc:
                status_code = 404 if exc.error == "unknown_project" else 422
                raise _one(status_code, exc.error, exc.field, exc.for_people()) from exc
            except campaign_service.CampaignExists as exc:
                raise HTTPException(409, {"error": "already_planned", "campaign_id": str(exc.campaign_id),
                                          "fields": [{"field": "period", "reason": exc.for_people()}]}) from exc
            await uow.commit()
        async with uow_factory() as uow:
            return await _campaign_out(campaign, uow)

    @router.get("/campaigns", dependencies=[Depends(READ_RESULTS)])
    async def get_campaigns(page: Annotated[Page, Depends()], project_id: str | None = None) -> list[dict[str, Any]]:
        async with uow_factory() as uow:
            return [await _campaign_out(c, uow) for c in page.of([c for c in await campaign_service.list_campaigns(
                uow=uow, project_id=project_id) if _caller_sees(c)])]

    @router.get("/campaigns/{campaign_id}", dependencies=[Depends(READ_RESULTS)])
    async def get_campaign(campaign_id: uuid.UUID) -> dict[str, Any]:
        async with uow_factory() as uow:
            campaign = await campaign_service.get_campaign(campaign_id, uow=uow)
            if campaign is None or not _caller_sees(campaign):
                raise _one(404, "not_found", "campaign_id", "没有这个调查活动", "no such campaign")
            return await _campaign_out(campaign, uow)

    @router.post("/campaigns/{campaign_id}/handed-out", dependencies=[Depends(HAND_OUT)])
    async def post_handed_out(campaign_id: uuid.UUID, body: HandedOutIn) -> dict[str, Any]:
        async with uow_factory() as uow:
            campaign = await campaign_service.get_campaign(campaign_id, uow=uow)
            if campaign is None or not _caller_sees(campaign):
                raise _one(404, "not_found", "campaign_id", "没有这个调查活动", "no such campaign")
            marked = await campaign_service.mark_handed_out(campaign, body.invitation_ids, uow=uow, deps=deps)
            await uow.commit()
        return {"campaign_id": str(campaign_id), "marked": marked}

    @router.post("/campaigns/{campaign_id}/close", dependencies=[Depends(RUN_CAMPAIGNS)])
    async def post_close(campaign_id: uuid.UUID) -> dict[str, Any]:
        """Close now, before the collection deadline (the scheduler closes it at the deadline)."""
        async with uow_factory() as uow:
            campaign = await campaign_service.get_campaign(campaign_id, uow=uow, for_update=True)
            if campaign is None or not _caller_sees(campaign):
                raise _one(404, "not_found", "campaign_id", "没有这个调查活动", "no such campaign")
            if campaign.status == "closed":
                raise _one(409, "already_closed", "campaign_id", "调查活动已结束", "the campaign is closed")
            data = await campaign_service.close_campaign(campaign, uow=uow, deps=deps)
            await uow.commit()
        return data.model_dump(mode="json")

    # --- projects (survey's copy of the registry) and evaluations -------------------------------

    @router.get("/projects/{project_id}", dependencies=[Depends(READ_PROJECTS)])
    async def get_project(project_id: str) -> dict[str, Any]:
        async with uow_factory() as uow:
            project = await registry.get_project(project_id, uow=uow)
            if project is None or not _caller_sees(project):
                raise _one(404, "not_found", "project_id", "满意度调查尚未收到这个项目", "survey has not heard of this project")
            buildings = await registry.unit_counts(project_id, uow=uow)
        return {"project_id": project.project_id, "stage": project.stage, "revision": project.revision,
                "households": project.households, "occupancy_start": project.occupancy_start,
                "signed_on": project.signed_on, "completion_date": project.completion_date,
                "warranty_end": project.warranty_end, "buildings": buildings,
                "units": sum(b["units"] for b in buildings.values()),
                "occupied_units": sum(b["occupied"] for b in buildings.values())}

    @router.get("/projects/{project_id}/coverage", dependencies=[Depends(READ_PROJECTS)])
    async def get_coverage(project_id: str, year: int = Query(ge=2000, le=2100)) -> dict[str, Any]:
        async with uow_factory() as uow:
            await ensure_project_visible(project_id, uow)
            occupied, reached, ok = await campaign_service.annual_coverage(project_id, year, uow=uow)
        return {"project_id": project_id, "year": year, "occupied_units": occupied, "reached": reached,
                "complete": ok}

    @router.get("/projects/{project_id}/evaluations", dependencies=[Depends(READ_PROJECTS)])
    async def get_evaluations(project_id: str, page: Annotated[Page, Depends()]) -> list[dict[str, Any]]:
        async with uow_factory() as uow:
            await ensure_project_visible(project_id, uow)
            rows = page.of(await evaluation_service.project_evaluations(project_id, uow=uow))
        return [{"evaluation_id": str(e.id), "stage": e.stage, "stage_name": name_of("project_stage", e.stage),
                 "period": e.period, "opens_on": e.opens_on,
                 "due_on": e.due_on, "template_id": e.template_id, "recorded": e.recorded_at is not None,
                 "due_notified": e.due_notified_at is not None, "overdue_notified": e.overdue_notified_at is not None,
                 "sheet_score": domain.as_jsonable(e.sheet_score), "grade": e.grade,
                 "grade_name": name_of("evaluation_grade", e.grade)} for e in rows]

    @router.post("/evaluations/{evaluation_id}/sheet", dependencies=[Depends(EVALUATE)], status_code=status.HTTP_201_CREATED)
    async def post_sheet(evaluation_id: uuid.UUID, body: SheetIn, request: Request) -> dict[str, Any]:
        command = evaluation_service.RecordSheet(
            evaluation_id=evaluation_id, answers=[a.answer() for a in body.answers],
            correlation_id=correlation_id_of(request), hazard_deduction=body.hazard_deduction,
            evaluated_on=body.evaluated_on, entered_by=body.entered_by,
            meets_basic_conditions=body.meets_basic_conditions, template_version=body.template_version)
        try:
            async with uow_factory() as uow:
                if (evaluation := await uow.session.get(Evaluation, evaluation_id)) is not None:
                    await ensure_project_visible(evaluation.project_id, uow)
                done = await evaluation_service.record_sheet(command, uow=uow, deps=deps)
                await uow.commit()
        except evaluation_service.EvaluationRefused as exc:
            raise _one(404 if exc.error == "unknown_evaluation" else 409, exc.error, exc.field, exc.for_people()) from exc
        except AnswersRefused as exc:
            async with uow_factory() as uow:
                await service.record_refusal(exc, uow=uow, clock=clock, channel="paper",
                                             submitted=command.answers, correlation_id=command.correlation_id)
                await uow.commit()
            raise _refused(exc) from exc
        return done.data.model_dump(mode="json")

    @router.get("/projects/{project_id}/flags", dependencies=[Depends(READ_PROJECTS)])
    async def get_flags(project_id: str, page: Annotated[Page, Depends()]) -> list[dict[str, Any]]:
        async with uow_factory() as uow:
            await ensure_project_visible(project_id, uow)
            rows = page.of(await campaign_service.project_flags(project_id, uow=uow))
        return [{"flag_id": str(f.id), "flag": f.flag, "flag_name": name_of("survey_flag", f.flag),
                 "reasons": f.reasons, "reason_names": [name_of("survey_flag_reason", r) for r in f.reasons or []],
                 "source": f.source,
                 "score": f.score, "flagged_at": f.flagged_at.isoformat(),
                 "evaluation_id": str(f.evaluation_id) if f.evaluation_id else None,
                 "campaign_id": str(f.campaign_id) if f.campaign_id else None} for f in rows]

    return router

