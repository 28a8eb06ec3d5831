"""Campaign use cases: plan a round (draw the households, issue the invitations), follow its
returns, remind, and close it with its figures (rules in :mod:`services.survey.campaigns`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from services.survey import campaigns, domain, scoring
from services.survey.models import (
    Campaign,
    Invitation,
    ProjectCopy,
    ProjectFlagRecord,
    RefusedAnswers,
    SurveyResponse,
    UnitCopy,
)
from services.survey.service import (
    PRODUCER,
    Deps,
    NewInvitation,
    TemplateNotFound,
    issue_invitations,
    load_template,
)
from shared.clock import CHINA
from shared.db import UnitOfWork
from shared.events.envelope import OrgPath
from shared.events.surveys import (
    BuildingDraw,
    ItemFigure,
    ProjectFlagged,
    ProjectFlaggedData,
    SurveyCampaignClosed,
    SurveyCampaignClosedData,
    SurveyCampaignPlanned,
    SurveyCampaignPlannedData,
    SurveyReminderDue,
    SurveyReminderDueData,
)
from shared.events.vocabulary import SurveyScheme
from shared.i18n import pick


class CampaignRefused(ValueError):
    """``reason`` in Chinese (what people read by default), ``reason_en`` in English (``?lang=en``)."""

    def __init__(self, error: str, field: str, reason: str, reason_en: str | None = None) -> None:
        super().__init__(f"{field}: {reason_en or reason}")
        self.error, self.field, self.reason, self.reason_en = error, field, reason, reason_en

    def for_people(self) -> str:
        return pick(self.reason, self.reason_en)


class CampaignExists(Exception):
    def __init__(self, campaign_id: uuid.UUID) -> None:
        super().__init__(f"campaign {campaign_id} already runs this round")
        self.campaign_id = campaign_id

    def for_people(self) -> str:
        return pick(f"调查活动 {self.campaign_id} 已在进行这一轮", str(self))


@dataclass(frozen=True)
class PlanCampaign:
    project_id: str
    template_id: str
    correlation_id: uuid.UUID
    round: campaigns.Round = "semiannual"
    rule: campaigns.Rule = "occupancy"
    period: str | None = None
    template_version: int | None = None
    delivery: Literal["link", "paper"] = "link"
    seed: str | None = None
    starts_at: datetime | None = None


def _org(row: Any) -> OrgPath:
    return OrgPath(group=row.org_group, subsidiary=row.org_subsidiary, project=row.org_project)


async def plan_campaign(cmd: PlanCampaign, *, uow: UnitOfWork, deps: Deps) -> Campaign:
    """Draw the round's households, reproducibly, spread over the buildings; invite each one."""
    project = await uow.session.get(ProjectCopy, cmd.project_id)
    if project is None:
        raise CampaignRefused("unknown_project", "project_id", f"项目 {cmd.project_id} 尚未登记",
                              f"project {cmd.project_id} is not registered")
    try:
        template = await load_template(uow, cmd.template_id, cmd.template_version)
    except TemplateNotFound as exc:
        raise CampaignRefused("unknown_template", "template_id", exc.for_people(), str(exc)) from exc
    if template.scheme is SurveyScheme.PROJECT_SERVICE_SCORE:
        raise CampaignRefused("wrong_scheme", "template_id", "住户填写方案 A、B 或 D 的问卷，不填方案 C 的评分表",
                              "households answer A, B or D forms, not a C sheet")
    now = deps.clock()
    starts_at = cmd.starts_at or now
    start_day = starts_at.astimezone(CHINA).date()
    period = cmd.period or campaigns.period_of(cmd.round, start_day)
    if not campaigns.check_period(cmd.round, period):
        raise CampaignRefused("bad_period", "period", "半年期写作 '2026H1' 或 '2026H2'，年度写作 '2026'",
                              "a semiannual period is '2026H1' or '2026H2', an annual one '2026'")
    # One project's rounds are planned one at a time (the carry-over reads the earlier rounds).
    await uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                              {"k": f"survey:campaign:{cmd.project_id}"})
    existing = (await uow.session.execute(sa.select(Campaign.id).where(
        Campaign.project_id == cmd.project_id, Campaign.round == cmd.round, Campaign.rule == cmd.rule,
        Campaign.period == period))).scalar_one_or_none()
    if existing is not None:
        raise CampaignExists(existing)

    units = (await uow.session.execute(
        sa.select(UnitCopy).where(UnitCopy.project_id == cmd.project_id))).scalars().all()
    occupied = [campaigns.CandidateUnit(u.unit_id, u.building, u.label, u.household_id) for u in units if u.occupied]
    if not occupied:
        raise CampaignRefused("no_households", "project_id", "该项目没有已登记的入住房屋",
                              "the project has no occupied units on record")
    households = max(project.households or 0, len(units))
    required = campaigns.required_forms(
        rule=cmd.rule, round=cmd.round, occupied_units=len(occupied), households=households,
        years_occupied=campaigns.years_completed(project.occupancy_start, start_day), rules=deps.rules,
    )
    must_include: set[uuid.UUID] = set()
    if cmd.rule == "occupancy" and cmd.round == "semiannual":
        reached, earlier = await reached_in_year(uow, cmd.project_id, campaigns.period_year(period))
        if earlier:
            must_include = {u.unit_id for u in occupied} - reached
    seed = cmd.seed or f"{cmd.project_id}|{cmd.round}|{cmd.rule}|{period}"
    draw = campaigns.draw_households(occupied, required=required, seed=seed, must_include=must_include)
    deadlines = campaigns.deadlines(starts_at, deps.rules)
    org = _org(project)
    target = campaigns.return_target(cmd.rule, deps.rules)
    campaign = Campaign(
        id=uuid.uuid4(), project_id=cmd.project_id, org_group=org.group, org_subsidiary=org.subsidiary,
        org_project=org.project, round=cmd.round, rule=cmd.rule, period=period, template_id=template.template_id,
        template_version=template.version, delivery=cmd.delivery, seed=seed, status="open", starts_at=starts_at,
        hand_out_by=deadlines.hand_out_by, collect_by=deadlines.collect_by, occupied_units=len(occupied),
        households=households, required=required, carried_over=len(must_include), drawn=draw.size,
        return_target=target, per_building={b: list(v) for b, v in draw.per_building.items()},
        correlation_id=cmd.correlation_id,
    )
    uow.session.add(campaign)
    await uow.session.flush()
    uow.publish(SurveyCampaignPlanned.create(
        data=SurveyCampaignPlannedData(
            campaign_id=campaign.id, project_id=cmd.project_id, round=cmd.round, rule=cmd.rule, period=period,
            template_id=template.template_id, template_version=template.version, seed=seed,
            occupied_units=len(occupied), households=households, required=required,
            carried_over=len(must_include), drawn=draw.size,
            buildings=tuple(BuildingDraw(building=b, occupied_units=o, drawn=d)
                            for b, (o, d) in draw.per_building.items()),
            hand_out_by=deadlines.hand_out_by, collect_by=deadlines.collect_by,
            return_target_percent=float(target),
        ),
        org=org, aggregate_id=campaign.id, occurred_at=now, producer=PRODUCER, correlation_id=cmd.correlation_id,
    ))
    await issue_invitations([
        NewInvitation(purpose="campaign", template=template, org=org, expires_at=deadlines.collect_by,
                      correlation_id=cmd.correlation_id, reminders=deps.campaign_reminders, delivery=cmd.delivery,
                      campaign_id=campaign.id, project_id=cmd.project_id, unit_id=u.unit_id,
                      household_id=u.household_id)
        for u in draw.units
    ], uow=uow, deps=deps)
    return campaign


async def reached_in_year(uow: UnitOfWork, project_id: str, year: int) -> tuple[set[uuid.UUID], bool]:
    """Units the year's occupancy-rule rounds of the project reached, and whether there was one."""
    ids = (await uow.session.execute(sa.select(Campaign.id).where(
        Campaign.project_id == project_id, Campaign.rule == "occupancy", Campaign.period.like(f"{year}%"),
    ))).scalars().all()
    if not ids:
        return set(), False
    reached = set((await uow.session.execute(
        sa.select(Invitation.unit_id).where(Invitation.campaign_id.in_(ids), Invitation.unit_id.is_not(None))
    )).scalars())
    return reached, True


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    campaign: Campaign
    handed_out: int
    returned: int
    refused: int
    return_rate: Decimal | None
    return_ok: bool | None
    distribution_ok: bool
    per_building: dict[str, dict[str, int]]


async def progress(campaign: Campaign, *, uow: UnitOfWork) -> Progress:
    inv = Invitation
    rows = (await uow.session.execute(
        sa.select(UnitCopy.building, sa.func.count(inv.id), sa.func.count(inv.handed_out_at),
                  sa.func.count(inv.used_at))
        .select_from(inv).join(UnitCopy, UnitCopy.unit_id == inv.unit_id, isouter=True)
        .where(inv.campaign_id == campaign.id).group_by(UnitCopy.building)
    )).all()
    per_building = {
        str(b): {"occupied": campaign.per_building.get(str(b), [0, 0])[0], "drawn": n, "handed_out": h,
                 "returned": r}
        for b, n, h, r in rows
    }
    handed_out = sum(v["handed_out"] for v in per_building.values())
    returned = (await uow.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse).where(
        SurveyResponse.campaign_id == campaign.id))).scalar_one()
    refused = (await uow.session.execute(sa.select(sa.func.count()).select_from(RefusedAnswers).where(
        RefusedAnswers.campaign_id == campaign.id))).scalar_one()
    returned = min(returned, handed_out) if handed_out else returned
    rate = scoring.return_rate(returned, handed_out) if handed_out else None
    ok = scoring.return_rate_ok(returned, handed_out, target_percent=campaign.return_target) if handed_out else None
    return Progress(campaign, handed_out, returned, refused, rate, ok, handed_out >= campaign.required, per_building)


async def mark_handed_out(
    campaign: Campaign, invitation_ids: list[uuid.UUID] | None, *, uow: UnitOfWork, deps: Deps
) -> int:
    """Staff handed out paper forms (all of the campaign's when no ids are given)."""
    query = sa.update(Invitation).where(Invitation.campaign_id == campaign.id, Invitation.handed_out_at.is_(None))
    if invitation_ids is not None:
        query = query.where(Invitation.id.in_(invitation_ids))
    result = await uow.session.execute(query.values(handed_out_at=deps.clock()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def get_campaign(campaign_id: uuid.UUID, *, uow: UnitOfWork, for_update: bool = False) -> Campaign | None:
    query = sa.select(Campaign).where(Campaign.id == campaign_id)
    if for_update:
        query = query.with_for_update()
    return (await uow.session.execute(query)).scalar_one_or_none()


async def list_campaigns(*, uow: UnitOfWork, project_id: str | None = None) -> list[Campaign]:
    query = sa.select(Campaign).order_by(Campaign.starts_at.desc())
    if project_id:
        query = query.where(Campaign.project_id == project_id)
    return list((await uow.session.execute(query)).scalars())


async def annual_coverage(project_id: str, year: int, *, uow: UnitOfWork) -> tuple[int, int, bool]:
    """(occupied units, of them reached by the year's occupancy-rule rounds, every one reached)."""
    occupied = set((await uow.session.execute(sa.select(UnitCopy.unit_id).where(
        UnitCopy.project_id == project_id, UnitCopy.occupied))).scalars())
    reached, _ = await reached_in_year(uow, project_id, year)
    covered = occupied & reached
    return len(occupied), len(covered), scoring.annual_coverage_ok({str(u) for u in occupied},
                                                                  [{str(u) for u in reached}])


# --- closing ----------------------------------------------------------------------------------


async def close_campaign(campaign: Campaign, *, uow: UnitOfWork, deps: Deps) -> SurveyCampaignClosedData:
    """Count the returns, score the returned forms, flag an unsatisfactory project; once."""
    now = deps.clock()
    status = await progress(campaign, uow=uow)
    template = await load_template(uow, campaign.template_id, campaign.template_version)
    answers = (await uow.session.execute(sa.select(SurveyResponse.answers).where(
        SurveyResponse.campaign_id == campaign.id))).scalars().all()
    forms = [{a["item_id"]: a.get("level") for a in form} for form in answers]
    figure = domain.campaign_figure(template, forms, marks=deps.marks) if forms else domain.CampaignFigure(None, None)
    coverage_ok = None
    if campaign.rule == "occupancy" and (campaign.round == "annual" or campaign.period.endswith("H2")):
        _, _, coverage_ok = await annual_coverage(campaign.project_id, campaigns.period_year(campaign.period), uow=uow)
    data = SurveyCampaignClosedData(
        campaign_id=campaign.id, project_id=campaign.project_id, period=campaign.period,
        round=campaign.round, rule=campaign.rule, scheme=template.scheme.value,  # type: ignore[arg-type]
        closed_at=now, distributed=status.handed_out, returned=status.returned, refused=status.refused,
        return_rate=domain.as_jsonable(status.return_rate), return_target_percent=float(campaign.return_target),
        return_ok=status.return_ok, distribution_required=campaign.required, distribution_ok=status.distribution_ok,
        annual_coverage_ok=coverage_ok, score=domain.as_jsonable(figure.score), satisfied=figure.satisfied,
        items=tuple(ItemFigure(item_id=i, figure=domain.as_jsonable(f), answered=n) for i, f, n in figure.items),
    )
    campaign.status, campaign.closed_at = "closed", now
    campaign.results = data.model_dump(mode="json")
    await uow.session.execute(sa.update(Invitation).where(Invitation.campaign_id == campaign.id)
                              .values(next_reminder_at=None))
    org = _org(campaign)
    uow.publish(SurveyCampaignClosed.create(data=data, org=org, aggregate_id=campaign.id, occurred_at=now,
                                            producer=PRODUCER, correlation_id=campaign.correlation_id))
    if figure.satisfied is False:
        reason, threshold = {
            SurveyScheme.SATISFACTION_RATE: ("satisfaction_rate_below_qualified", deps.marks.satisfaction_rate),
            SurveyScheme.FIVE_LEVEL: ("score_below_pass", deps.marks.five_level_score),
            SurveyScheme.THREE_LEVEL: ("review_required", template.definition.target_percent or Decimal(0)),
        }[template.scheme]
        await flag_project(uow, deps, project_id=campaign.project_id, org=org, flag="unsatisfactory_score",
                           reasons=(reason,), source="campaign", campaign_id=campaign.id,
                           score=figure.score, threshold=threshold, correlation_id=campaign.correlation_id)
    return data


async def flag_project(
    uow: UnitOfWork, deps: Deps, *, project_id: str, org: OrgPath, flag: Any, reasons: tuple[str, ...], source: Any,
    correlation_id: uuid.UUID, campaign_id: uuid.UUID | None = None, evaluation_id: uuid.UUID | None = None,
    score: Decimal | None = None, threshold: Decimal | None = None,
) -> None:
    now = deps.clock()
    flag_id = uuid.uuid4()
    uow.session.add(ProjectFlagRecord(
        id=flag_id, project_id=project_id, flag=flag, reasons=list(reasons), source=source, campaign_id=campaign_id,
        evaluation_id=evaluation_id, score=domain.as_jsonable(score), flagged_at=now))
    uow.publish(ProjectFlagged.create(
        data=ProjectFlaggedData(
            flag_id=flag_id, project_id=project_id, flag=flag, reasons=reasons, source=source,
            campaign_id=campaign_id, evaluation_id=evaluation_id, score=domain.as_jsonable(score),
            threshold=domain.as_jsonable(threshold), flagged_at=now,
        ),
        org=org, aggregate_id=project_id, occurred_at=now, producer=PRODUCER, correlation_id=correlation_id,
    ))


# --- the background loop's share --------------------------------------------------------------


async def close_due_campaigns(*, uow: UnitOfWork, deps: Deps, limit: int = 20) -> int:
    """Close every open campaign past its collection deadline, once across replicas (SKIP LOCKED)."""
    due = (await uow.session.execute(
        sa.select(Campaign).where(Campaign.status == "open", Campaign.collect_by <= deps.clock())
        .order_by(Campaign.collect_by).limit(limit).with_for_update(skip_locked=True)
    )).scalars().all()
    for campaign in due:
        await close_campaign(campaign, uow=uow, deps=deps)
    return len(due)


async def send_due_reminders(*, uow: UnitOfWork, deps: Deps, limit: int = 500) -> int:
    """One SurveyReminderDue per unanswered invitation whose reminder time has come."""
    now = deps.clock()
    due = (await uow.session.execute(
        sa.select(Invitation).where(Invitation.used_at.is_(None), Invitation.handed_out_at.is_not(None),
                                    Invitation.next_reminder_at.is_not(None),
                                    Invitation.next_reminder_at <= now, Invitation.expires_at > now)
        .order_by(Invitation.next_reminder_at).limit(limit).with_for_update(skip_locked=True)
    )).scalars().all()
    events = []
    for invitation in due:
        invitation.reminders_sent += 1
        offsets = deps.campaign_reminders if invitation.campaign_id else deps.return_visit_reminders
        later = [t for t in campaigns.reminder_times(invitation.issued_at, offsets, until=invitation.expires_at)
                 if t > now]
        invitation.next_reminder_at = later[0] if later else None
        events.append(SurveyReminderDue.create(
            data=SurveyReminderDueData(
                reminder_id=uuid.uuid4(), kind="answer", sequence=invitation.reminders_sent,
                due_by=invitation.expires_at, invitation_id=invitation.id, campaign_id=invitation.campaign_id,
                case_id=invitation.case_id, project_id=invitation.project_id, household_id=invitation.household_id,
            ),
            org=OrgPath(group=invitation.org_group, subsidiary=invitation.org_subsidiary,
                        project=invitation.org_project),
            aggregate_id=invitation.id, occurred_at=now, producer=PRODUCER, correlation_id=invitation.correlation_id,
        ))
    # Paper forms: remind staff a day before the hand-out deadline while forms are still with them.
    campaigns_due = (await uow.session.execute(
        sa.select(Campaign).where(Campaign.status == "open", Campaign.delivery == "paper",
                                  Campaign.hand_out_reminded_at.is_(None),
                                  Campaign.hand_out_by - sa.text("interval '1 day'") <= now)
        .limit(limit).with_for_update(skip_locked=True)
    )).scalars().all()
    for campaign in campaigns_due:
        campaign.hand_out_reminded_at = now
        outstanding = (await uow.session.execute(sa.select(sa.func.count()).select_from(Invitation).where(
            Invitation.campaign_id == campaign.id, Invitation.handed_out_at.is_(None)))).scalar_one()
        if outstanding:
            events.append(SurveyReminderDue.create(
                data=SurveyReminderDueData(reminder_id=uuid.uuid4(), kind="hand_out", sequence=1,
                                           due_by=campaign.hand_out_by, campaign_id=campaign.id,
                                           project_id=campaign.project_id, outstanding=outstanding),
                org=_org(campaign), aggregate_id=campaign.id, occurred_at=now, producer=PRODUCER,
                correlation_id=campaign.correlation_id,
            ))
    uow.publish(*events)
    return len(events)


async def project_flags(project_id: str, *, uow: UnitOfWork) -> list[ProjectFlagRecord]:
    return list((await uow.session.execute(sa.select(ProjectFlagRecord).where(
        ProjectFlagRecord.project_id == project_id).order_by(ProjectFlagRecord.flagged_at))).scalars())


async def plan_due_rounds(*, uow: UnitOfWork, deps: Deps) -> int:
    """With automatic rounds on (``Deps.auto_campaign_template``): plan this half-year's round for
    one project that has occupied units and no round yet. One per call, so each commits alone."""
    if deps.auto_campaign_template is None:
        return 0
    now = deps.clock()
    period = campaigns.period_of("semiannual", now.astimezone(CHINA).date())
    has_round = sa.exists().where(Campaign.project_id == ProjectCopy.project_id, Campaign.round == "semiannual",
                                  Campaign.rule == "occupancy", Campaign.period == period)
    has_units = sa.exists().where(UnitCopy.project_id == ProjectCopy.project_id, UnitCopy.occupied)
    project = (await uow.session.execute(
        sa.select(ProjectCopy).where(~has_round, has_units).order_by(ProjectCopy.project_id).limit(1)
        .with_for_update(skip_locked=True)
    )).scalar_one_or_none()
    if project is None:
        return 0
    await plan_campaign(PlanCampaign(
        project_id=project.project_id, template_id=deps.auto_campaign_template, period=period,
        correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"careloop-survey:round:{project.project_id}:{period}"),
    ), uow=uow, deps=deps)
    return 1
