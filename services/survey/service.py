"""Survey's core use cases: templates, returned forms from every channel, one-time invitations,
refusals kept for audit, and the feedback that dissatisfied answers send back to intake.

They change state and queue events; the caller's unit of work commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.survey import builtin, campaigns, domain
from services.survey.domain import AnswersRefused, Template, TemplateDefinition
from services.survey.models import (
    Campaign,
    Invitation,
    ProjectCopy,
    RefusedAnswers,
    SurveyResponse,
    SurveyTemplate,
    UnitCopy,
)
from shared.clock import Clock
from shared.db import OutboxMessage, UnitOfWork
from shared.events import ItemAnswer, OrgPath, SurveyReturned, SurveyReturnedData
from shared.events.envelope import CODE_PATTERN
from shared.events.inbound import InboundFeedback
from shared.events.surveys import InvitationPurpose, SurveyInvitationIssued, SurveyInvitationIssuedData
from shared.events.vocabulary import SurveyScheme
from shared.i18n import pick
from shared.labels import name_of
from shared.topics import INBOUND_FEEDBACK

PRODUCER = "survey"
FEEDBACK_SOURCE = "careloop-survey"
RETURN_VISIT_PURPOSES = frozenset({"complaint_return_visit", "repair_return_visit"})
_CODE = re.compile(CODE_PATTERN)


@dataclass(frozen=True)
class Deps:
    """What the use cases need besides the unit of work; built once in ``app.py``."""

    clock: Clock
    public_url: str = "http://127.0.0.1:8103"
    link_key: str = "careloop-dev-only-survey-link-key"  # CARELOOP_SURVEY_LINK_KEY (domain.link_token)
    marks: domain.PassMarks = domain.PassMarks()
    return_visit_valid: timedelta = timedelta(days=14)
    return_visit_reminders: tuple[float, ...] = (3.0,)
    campaign_reminders: tuple[float, ...] = (5.0, 8.0)
    rules: campaigns.DistributionRules = campaigns.DistributionRules()
    pre_construction_days: int = 7
    process_report_day: int = 5
    auto_campaign_template: str | None = None  # plan each half-year's round by itself when set


class TemplateNotFound(LookupError):
    def __init__(self, template_id: str, version: int | None = None) -> None:
        super().__init__(f"template {template_id}" + (f" v{version}" if version else "") + " is not registered")
        self.template_id = template_id
        self.version = version

    def for_people(self) -> str:
        """The reason in the request's language."""
        zh = f"模板 {self.template_id}" + (f" 第 {self.version} 版" if self.version else "") + " 尚未登记"
        return pick(zh, str(self))


class TemplateConflict(Exception):
    def __init__(self, template_id: str) -> None:
        super().__init__(f"template {template_id} exists; version it with PUT")
        self.template_id = template_id

    def for_people(self) -> str:
        return pick(f"模板 {self.template_id} 已存在，请用 PUT 新建版本", str(self))


# --- templates --------------------------------------------------------------------------------


def _template(row: SurveyTemplate) -> Template:
    return Template(row.template_id, row.version, TemplateDefinition.model_validate(row.definition))


async def latest_template_row(uow: UnitOfWork, template_id: str) -> SurveyTemplate | None:
    return (await uow.session.execute(
        sa.select(SurveyTemplate).where(SurveyTemplate.template_id == template_id)
        .order_by(SurveyTemplate.version.desc()).limit(1)
    )).scalar_one_or_none()


async def load_template(uow: UnitOfWork, template_id: str, version: int | None = None) -> Template:
    """The given version, or the current (highest) one. Raises TemplateNotFound."""
    row = await _template_row(uow, template_id, version)
    if row is None and template_id in builtin.BUILTIN_TEMPLATES and version in (None, 1):
        # A consumer may need a built-in before start-up has written it (both run at once).
        await _lock_builtins(uow)
        definition = builtin.BUILTIN_TEMPLATES[template_id]
        await uow.session.execute(pg_insert(SurveyTemplate).values(
            template_id=template_id, version=1, scheme=definition.scheme.value, purpose=definition.purpose,
            definition=_definition_json(definition), builtin=True, created_by="survey", created_at=sa.func.now(),
        ).on_conflict_do_nothing())
        row = await _template_row(uow, template_id, version)
    if row is None:
        raise TemplateNotFound(template_id, version)
    return _template(row)


async def _lock_builtins(uow: UnitOfWork) -> None:
    # Whoever writes built-ins (start-up, a consumer, a listing) does so one at a time: two
    # transactions inserting several of them in different orders would deadlock.
    await uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('survey:builtin-templates'))"))


async def _template_row(uow: UnitOfWork, template_id: str, version: int | None) -> SurveyTemplate | None:
    if version is None:
        return await latest_template_row(uow, template_id)
    return await uow.session.get(SurveyTemplate, (template_id, version))


async def list_templates(uow: UnitOfWork) -> list[Template]:
    """The current version of every template (built-ins written first if start-up has not yet)."""
    known = set((await uow.session.execute(sa.select(SurveyTemplate.template_id).distinct())).scalars())
    for template_id in sorted(builtin.BUILTIN_TEMPLATES.keys() - known):
        await load_template(uow, template_id)
    rows = (await uow.session.execute(
        sa.select(SurveyTemplate).ext(distinct_on(SurveyTemplate.template_id))
        .order_by(SurveyTemplate.template_id, SurveyTemplate.version.desc())
    )).scalars()
    return [_template(r) for r in rows]


def _definition_json(definition: TemplateDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", exclude_none=True)


async def create_template(
    template_id: str, definition: TemplateDefinition, *, uow: UnitOfWork, clock: Clock, created_by: str | None,
) -> Template:
    inserted = await uow.session.execute(
        pg_insert(SurveyTemplate).values(
            template_id=template_id, version=1, scheme=definition.scheme.value, purpose=definition.purpose,
            definition=_definition_json(definition), builtin=False, created_by=created_by, created_at=clock(),
        ).on_conflict_do_nothing().returning(SurveyTemplate.version)
    )
    if inserted.first() is None:
        raise TemplateConflict(template_id)
    return Template(template_id, 1, definition)


async def version_template(
    template_id: str, definition: TemplateDefinition, *, uow: UnitOfWork, clock: Clock, created_by: str | None,
    builtin_change: bool = False,
) -> tuple[Template, bool]:
    """A new version when the definition changed; (template, created). Responses keep their version."""
    await uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                              {"k": f"survey:template:{template_id}"})
    latest = await latest_template_row(uow, template_id)
    if latest is None:
        if builtin_change and template_id in builtin.BUILTIN_TEMPLATES:
            return await load_template(uow, template_id), True  # writes version 1, racing nobody
        raise TemplateNotFound(template_id)
    if latest.definition == _definition_json(definition):
        return _template(latest), False
    if builtin_change and not latest.builtin:
        return _template(latest), False  # someone versioned it over HTTP: theirs stays current
    version = latest.version + 1
    uow.session.add(SurveyTemplate(
        template_id=template_id, version=version, scheme=definition.scheme.value, purpose=definition.purpose,
        definition=_definition_json(definition), builtin=builtin_change, created_by=created_by, created_at=clock()))
    return Template(template_id, version, definition), True


async def ensure_builtin_templates(*, uow: UnitOfWork, clock: Clock) -> int:
    await _lock_builtins(uow)
    created = 0
    for template_id, definition in builtin.BUILTIN_TEMPLATES.items():
        _, made = await version_template(template_id, definition, uow=uow, clock=clock, created_by="survey",
                                         builtin_change=True)
        created += made
    return created


# --- returned forms ---------------------------------------------------------------------------

Channel = Literal["web", "paper", "inbound", "phone"]


@dataclass(frozen=True)
class RecordResponse:
    """One returned form, from whichever channel."""

    template_id: str
    org: OrgPath
    answers: Sequence[domain.Answer]
    channel: Channel
    correlation_id: uuid.UUID
    template_version: int | None = None
    scheme: SurveyScheme | None = None
    project_id: str | None = None
    unit_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    invitation_id: uuid.UUID | None = None
    evaluation_id: uuid.UUID | None = None
    returned_at: datetime | None = None
    hazard_deduction: Decimal | None = None
    source_system: str | None = None
    external_id: str | None = None
    entered_by: str | None = None
    return_visit: bool = False


@dataclass(frozen=True)
class Recorded:
    response_id: uuid.UUID
    created: bool
    template: Template | None = None
    scored: domain.ScoredForm | None = None
    returned_at: datetime | None = None
    feedback: tuple[str, ...] = field(default=())  # external ids of the feedback sent to intake


async def template_for(uow: UnitOfWork, cmd: RecordResponse) -> Template:
    try:
        template = await load_template(uow, cmd.template_id, cmd.template_version)
    except TemplateNotFound:
        unregistered = await latest_template_row(uow, cmd.template_id) is None
        if not unregistered:
            raise AnswersRefused.one("unknown_template", "template_version",
                                     f"{cmd.template_id} 没有第 {cmd.template_version} 版",
                                     f"{cmd.template_id} has no version {cmd.template_version}") from None
        if cmd.scheme is None or cmd.scheme is SurveyScheme.PROJECT_SERVICE_SCORE:
            raise AnswersRefused.one("unknown_template", "template_id", f"模板 '{cmd.template_id}' 尚未登记",
                                     f"template {cmd.template_id!r} is not registered") from None
        return domain.ad_hoc_template(cmd.template_id, cmd.template_version or 1, cmd.scheme,
                                      [a.item_id for a in cmd.answers])
    if cmd.scheme is not None and cmd.scheme is not template.scheme:
        raise AnswersRefused.one(
            "scheme_mismatch", "scheme",
            f"模板 {template.template_id} 第 {template.version} 版是方案 {template.scheme}"
            f"（{name_of('scheme', template.scheme.value, 'zh')}）",
            f"template {template.template_id} v{template.version} is scheme {template.scheme}")
    return template


async def record_response(cmd: RecordResponse, *, uow: UnitOfWork, deps: Deps) -> Recorded:
    """Check, score and keep one returned form; queue its SurveyReturned and, for each dissatisfied
    item, a FeedbackSubmission to intake. Raises AnswersRefused (the caller records the refusal)."""
    if cmd.source_system and cmd.external_id:
        earlier = (await uow.session.execute(sa.select(SurveyResponse.id).where(
            SurveyResponse.source_system == cmd.source_system, SurveyResponse.external_id == cmd.external_id,
        ))).scalar_one_or_none()
        if earlier is not None:
            return Recorded(earlier, created=False)
    if cmd.campaign_id is not None:
        campaign = await uow.session.get(Campaign, cmd.campaign_id)
        if campaign is None:
            raise AnswersRefused.one("unknown_campaign", "campaign_id", "没有这个调查活动", "no such campaign")
        if campaign.status == "closed":
            raise AnswersRefused.one("campaign_closed", "campaign_id", "调查活动已结束，其问卷已统计",
                                     "the campaign is closed; its forms are counted")
    template = await template_for(uow, cmd)
    scored = domain.score_answers(template, cmd.answers, hazard_deduction=cmd.hazard_deduction, marks=deps.marks)
    now = deps.clock()
    returned_at = cmd.returned_at or now
    response_id = uuid.uuid4()
    project_id = cmd.project_id or cmd.org.project
    answers = [
        {"item_id": i.item_id, "level": i.level, "points": domain.as_jsonable(i.points), "satisfied": i.satisfied,
         **({"deduction": float(i.deduction)} if i.deduction is not None else {}),
         **({"remark": i.remark} if i.remark else {})}
        for i in scored.items
    ]
    uow.session.add(SurveyResponse(
        id=response_id, template_id=template.template_id, template_version=template.version,
        template_registered=template.registered, scheme=template.scheme.value, channel=cmd.channel,
        project_id=project_id, org_group=cmd.org.group, org_subsidiary=cmd.org.subsidiary,
        org_project=cmd.org.project, answers=answers, score=domain.as_jsonable(scored.score),
        satisfied=scored.satisfied, hazard_deduction=cmd.hazard_deduction, household_id=cmd.household_id,
        unit_id=cmd.unit_id, case_id=cmd.case_id, campaign_id=cmd.campaign_id, invitation_id=cmd.invitation_id,
        evaluation_id=cmd.evaluation_id, source_system=cmd.source_system, external_id=cmd.external_id,
        entered_by=cmd.entered_by, returned_at=returned_at, correlation_id=cmd.correlation_id,
    ))
    await uow.session.flush()  # a second form on the same invitation or external id stops here
    uow.publish(SurveyReturned.create(
        data=SurveyReturnedData(
            response_id=response_id, template_id=template.template_id, template_version=template.version,
            scheme=template.scheme, campaign_id=cmd.campaign_id, project_id=project_id,
            household_id=cmd.household_id, case_id=cmd.case_id, channel=cmd.channel, returned_at=returned_at,
            answers=tuple(ItemAnswer(item_id=a["item_id"], level=a["level"], points=a["points"],
                                     satisfied=a["satisfied"]) for a in answers),
            score=domain.as_jsonable(scored.score), satisfied=scored.satisfied,
        ),
        org=cmd.org, aggregate_id=response_id, occurred_at=now, producer=PRODUCER,
        correlation_id=cmd.correlation_id,
    ))
    unit_label = await _unit_label(uow, cmd.unit_id)
    sent = []
    for item in domain.feedback_for(template, scored, response_id=response_id, return_visit=cmd.return_visit):
        _send_feedback(uow, item, cmd=cmd, project_id=project_id, unit=unit_label, received_at=returned_at)
        sent.append(item.external_id)
    return Recorded(response_id, True, template, scored, returned_at, tuple(sent))


async def _unit_label(uow: UnitOfWork, unit_id: uuid.UUID | None) -> str | None:
    if unit_id is None:
        return None
    unit = await uow.session.get(UnitCopy, unit_id)
    return f"{unit.building}-{unit.label}"[:64] if unit else None


def _send_feedback(
    uow: UnitOfWork, item: domain.FeedbackItem, *, cmd: RecordResponse, project_id: str | None, unit: str | None,
    received_at: datetime,
) -> None:
    """Into intake through its inbound topic, in this transaction (the outbox): intake turns it into
    a FeedbackReceived, and routing routes it to the responsible department. A form about a case (its
    return visit) names that case: the follow-up case keeps its first-contact owner (首问负责制)."""
    message = InboundFeedback(
        kind=item.kind, channel=item.channel, text=item.text, org=cmd.org, received_at=received_at,
        customer_id=cmd.household_id, follow_up_of=cmd.case_id,
        project_id=project_id if project_id and _CODE.match(project_id) else None,
        unit=unit, source_system=FEEDBACK_SOURCE, external_id=item.external_id, correlation_id=cmd.correlation_id,
    )
    uow.publish_raw(OutboxMessage(
        topic=INBOUND_FEEDBACK, key=project_id or str(cmd.correlation_id),
        payload=message.model_dump_json(exclude_none=True).encode(),
        headers={"message_type": message.message_type, "schema_version": str(message.schema_version),
                 "correlation_id": str(cmd.correlation_id), "content-type": "application/json"},
        event_id=message.event_id, event_type=message.message_type,
    ))


# --- refusals ---------------------------------------------------------------------------------


async def record_refusal(
    refusal: AnswersRefused, *, uow: UnitOfWork, clock: Clock, channel: str, cmd: RecordResponse | None = None,
    invitation: Invitation | None = None, submitted: Sequence[domain.Answer] = (),
    correlation_id: uuid.UUID | None = None,
) -> None:
    """Keep a refused form for audit: what came, from where, and why it was not counted."""
    answers = submitted or (cmd.answers if cmd else ())
    uow.session.add(RefusedAnswers(
        # Both languages kept: the list of refusals is read in the reader's (refusal_for_people).
        refused_at=clock(), channel=channel, reason_code=refusal.code,
        reason="；".join(f"{p.field}：{p.reason}" for p in refusal.problems)[:4000],
        problems=[{"field": p.field, "reason": p.reason, "reason_en": p.reason_en} for p in refusal.problems],
        template_id=(cmd.template_id if cmd else invitation.template_id if invitation else None),
        template_version=(cmd.template_version if cmd else invitation.template_version if invitation else None),
        invitation_id=(invitation.id if invitation else cmd.invitation_id if cmd else None),
        campaign_id=(cmd.campaign_id if cmd else invitation.campaign_id if invitation else None),
        case_id=(cmd.case_id if cmd else invitation.case_id if invitation else None),
        household_id=(cmd.household_id if cmd else invitation.household_id if invitation else None),
        project_id=(cmd.project_id if cmd else invitation.project_id if invitation else None),
        source_system=cmd.source_system if cmd else None, external_id=cmd.external_id if cmd else None,
        answers=[{"item_id": a.item_id[:64], "level": a.level[:64] if a.level else a.level,
                  **({"deduction": str(a.deduction)} if a.deduction is not None else {})} for a in answers[:200]],
        correlation_id=correlation_id or (cmd.correlation_id if cmd else None),
    ))


def refusal_for_people(row: RefusedAnswers) -> tuple[str, list[dict[str, str]]]:
    """A kept refusal's reason and problems in the request's language. Refusals kept before both
    languages were (one text, no ``reason_en``) read as they were kept."""
    problems = [{"field": p["field"], "reason": pick(p["reason"], p.get("reason_en"))} for p in row.problems or []]
    if problems and all(p.get("reason_en") for p in row.problems):
        reason = pick(row.reason, "; ".join(f"{p['field']}: {p['reason_en']}" for p in row.problems)[:4000])
    else:
        reason = row.reason
    return reason, problems


async def refusals(*, uow: UnitOfWork, limit: int = 100, campaign_id: uuid.UUID | None = None,
                   visible: Callable[[Any, Any, Any], Any] | None = None) -> list[RefusedAnswers]:
    """The latest refused forms. ``visible(group, subsidiary, project)`` gives the clause on a
    project's org path that the caller may see (None: everything); a refusal with no known project
    is then left out, since nothing says whose it is."""
    query = sa.select(RefusedAnswers).order_by(RefusedAnswers.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(RefusedAnswers.campaign_id == campaign_id)
    if visible is not None:
        clause = visible(ProjectCopy.org_group, ProjectCopy.org_subsidiary, ProjectCopy.org_project)
        if clause is not None:
            query = query.join(ProjectCopy, ProjectCopy.project_id == RefusedAnswers.project_id).where(clause)
    return list((await uow.session.execute(query)).scalars())


# --- invitations and the one-time link --------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    purpose: InvitationPurpose
    template: Template
    org: OrgPath
    expires_at: datetime
    correlation_id: uuid.UUID
    reminders: tuple[float, ...] = ()
    delivery: Literal["link", "paper"] = "link"
    case_id: uuid.UUID | None = None
    work_order_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    project_id: str | None = None
    unit_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None


def link_for(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}"


async def issue_invitations(
    wanted: Sequence[NewInvitation], *, uow: UnitOfWork, deps: Deps, caused_by: Any = None
) -> list[uuid.UUID]:
    """Invitations with a token each; one SurveyInvitationIssued apiece, without the link.

    The token is derived from the invitation id under the link key (:func:`domain.link_token`), so
    neither the event, the outbox nor the table holds it: the delivery channel fetches the link with
    :func:`invitation_link` (``GET /api/v1/invitations/{id}/link``).

    A case's return visit is issued once: a second request for the same case issues nothing.
    """
    now = deps.clock()
    issued: list[uuid.UUID] = []
    rows, events = [], []
    for invite in wanted:
        invitation_id = uuid.uuid4()
        token = domain.link_token(deps.link_key, invitation_id)
        reminders = campaigns.reminder_times(now, invite.reminders, until=invite.expires_at)
        row = {
            "id": invitation_id, "token_hash": domain.token_hash(token), "purpose": invite.purpose,
            "template_id": invite.template.template_id, "template_version": invite.template.version,
            "delivery": invite.delivery, "case_id": invite.case_id, "work_order_id": invite.work_order_id,
            "campaign_id": invite.campaign_id, "project_id": invite.project_id, "unit_id": invite.unit_id,
            "household_id": invite.household_id, "org_group": invite.org.group,
            "org_subsidiary": invite.org.subsidiary, "org_project": invite.org.project, "issued_at": now,
            "expires_at": invite.expires_at, "handed_out_at": now if invite.delivery == "link" else None,
            "reminders_sent": 0, "next_reminder_at": reminders[0] if reminders else None,
            "correlation_id": invite.correlation_id,
        }
        if invite.case_id is not None:
            created = await uow.session.execute(
                pg_insert(Invitation).values(**row)
                .on_conflict_do_nothing(index_elements=["case_id"], index_where=sa.text("case_id IS NOT NULL"))
                .returning(Invitation.id)
            )
            if created.first() is None:
                continue
        else:
            rows.append(row)
        issued.append(invitation_id)
        events.append(SurveyInvitationIssued.create(
            data=SurveyInvitationIssuedData(
                invitation_id=invitation_id, purpose=invite.purpose, template_id=invite.template.template_id,
                template_version=invite.template.version,
                expires_at=invite.expires_at, delivery=invite.delivery, case_id=invite.case_id,
                work_order_id=invite.work_order_id, campaign_id=invite.campaign_id, project_id=invite.project_id,
                unit_id=invite.unit_id, household_id=invite.household_id,
            ),
            org=invite.org, aggregate_id=invitation_id, occurred_at=now, producer=PRODUCER,
            correlation_id=invite.correlation_id, caused_by=caused_by,
        ))
    if rows:
        await uow.session.execute(sa.insert(Invitation), rows)
    uow.publish(*events)
    return issued


def invitation_link(invitation: Invitation, deps: Deps) -> str | None:
    """The one-time link of an invitation, derived again from its id; None when the stored hash is
    not of the derived token (an invitation issued before links were derived, or under another key)."""
    token = domain.link_token(deps.link_key, invitation.id)
    if domain.token_hash(token) != invitation.token_hash:
        return None
    return link_for(deps.public_url, token)


def invitation_org(invitation: Invitation) -> OrgPath:
    return OrgPath(group=invitation.org_group, subsidiary=invitation.org_subsidiary, project=invitation.org_project)


async def find_invitation(token: str, *, uow: UnitOfWork, for_update: bool = False) -> Invitation:
    """The invitation behind a one-time token (used or not); AnswersRefused when there is none."""
    if not domain.looks_like_token(token):
        raise AnswersRefused.one("token_unknown", "token", "此链接无效", "this link is not valid")
    query = sa.select(Invitation).where(Invitation.token_hash == domain.token_hash(token))
    if for_update:
        query = query.with_for_update()
    invitation = (await uow.session.execute(query)).scalar_one_or_none()
    if invitation is None:
        raise AnswersRefused.one("token_unknown", "token", "此链接无效", "this link is not valid")
    return invitation


def check_invitation(invitation: Invitation, *, now: datetime) -> None:
    if invitation.used_at is not None:
        raise AnswersRefused.one("token_used", "token", "此链接已使用过：答卷已收到",
                                 "this link has been used: the answers were received already")
    if now >= invitation.expires_at:
        raise AnswersRefused.one("token_expired", "token", "此链接已过期", "this link has expired")


def command_for_invitation(
    invitation: Invitation, answers: Sequence[domain.Answer], *, channel: Channel, correlation_id: uuid.UUID,
    returned_at: datetime | None = None, entered_by: str | None = None,
) -> RecordResponse:
    return RecordResponse(
        template_id=invitation.template_id, template_version=invitation.template_version,
        org=invitation_org(invitation), answers=answers, channel=channel, correlation_id=correlation_id,
        project_id=invitation.project_id, unit_id=invitation.unit_id, household_id=invitation.household_id,
        case_id=invitation.case_id, campaign_id=invitation.campaign_id, invitation_id=invitation.id,
        returned_at=returned_at, entered_by=entered_by, return_visit=invitation.purpose in RETURN_VISIT_PURPOSES,
    )


async def answer_invitation(
    invitation: Invitation, answers: Sequence[domain.Answer], *, uow: UnitOfWork, deps: Deps, channel: Channel,
    returned_at: datetime | None = None, entered_by: str | None = None,
) -> Recorded:
    """Use the invitation once: record the form it asked for (raises AnswersRefused)."""
    check_invitation(invitation, now=deps.clock())
    recorded = await record_response(
        command_for_invitation(invitation, answers, channel=channel, correlation_id=invitation.correlation_id,
                               returned_at=returned_at, entered_by=entered_by),
        uow=uow, deps=deps,
    )
    invitation.used_at = deps.clock()
    invitation.response_id = recorded.response_id
    invitation.next_reminder_at = None
    if invitation.handed_out_at is None:
        invitation.handed_out_at = invitation.used_at
    return recorded


async def get_invitation(invitation_id: uuid.UUID, *, uow: UnitOfWork, for_update: bool = False) -> Invitation | None:
    query = sa.select(Invitation).where(Invitation.id == invitation_id)
    if for_update:
        query = query.with_for_update()
    return (await uow.session.execute(query)).scalar_one_or_none()


async def find_invitations(
    *, uow: UnitOfWork, case_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None, limit: int = 2000,
) -> list[Invitation]:
    query = sa.select(Invitation).order_by(Invitation.issued_at, Invitation.id).limit(limit)
    if case_id is not None:
        query = query.where(Invitation.case_id == case_id)
    if campaign_id is not None:
        query = query.where(Invitation.campaign_id == campaign_id)
    return list((await uow.session.execute(query)).scalars())


async def get_response(response_id: uuid.UUID, *, uow: UnitOfWork) -> SurveyResponse | None:
    return await uow.session.get(SurveyResponse, response_id)
