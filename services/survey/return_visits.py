"""Return visits (回访, docs/domain.md §3–§4) triggered by routing's events.

- A complaint whose result the customer accepted gets a return visit: always when it is important
  (seed: "Important complaints always get a return visit"), otherwise when the case falls in the
  sample (``Deps.sampling_rate``), decided from the case id so a redelivery decides alike.
  Routing's events arrive on several topics in no guaranteed order, so the case's importance and
  its acceptance are both remembered: whichever comes last issues the return visit.
- A repair jointly accepted (RepairAccepted) gets one return visit per case it closes, asking
  about attitude, punctuality and quality.

One case never gets two return visits (a unique index on the invitation's case id).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.survey import builtin, domain
from services.survey.models import CaseRecord, Invitation
from services.survey.service import Deps, NewInvitation, issue_invitations, load_template
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, RepairAccepted
from shared.events.cases import CaseOpened, CaseTransitioned, ComplaintReclassified
from shared.events.envelope import Event, OrgPath


async def _case(uow: UnitOfWork, case_id: uuid.UUID, event: Event, deps: Deps) -> CaseRecord:
    await uow.session.execute(pg_insert(CaseRecord).values(
        case_id=case_id, org_group=event.org.group, org_subsidiary=event.org.subsidiary,
        org_project=event.org.project, correlation_id=event.correlation_id, updated_at=deps.clock(),
    ).on_conflict_do_nothing())
    case = (await uow.session.execute(
        sa.select(CaseRecord).where(CaseRecord.case_id == case_id).with_for_update()
        .execution_options(populate_existing=True)
    )).scalar_one()
    case.updated_at = deps.clock()
    return case


async def note_case_opened(event: CaseOpened, *, uow: UnitOfWork, deps: Deps) -> None:
    case = await _case(uow, event.data.case_id, event, deps)
    case.customer_id = event.data.customer_id
    case.project_id = event.data.project_id or event.org.project


async def note_classification(event: ComplaintClassified | ComplaintReclassified, *, uow: UnitOfWork, deps: Deps) -> None:
    case = await _case(uow, event.data.case_id, event, deps)
    case.important = event.data.important
    await _maybe_visit(case, uow=uow, deps=deps, caused_by=event)


async def note_transition(event: CaseTransitioned, *, uow: UnitOfWork, deps: Deps) -> None:
    if event.data.action != "accept_result" or event.data.accepted is not True:
        return
    case = await _case(uow, event.data.case_id, event, deps)
    if case.accepted_at is None:
        case.accepted_at = event.data.at
    await _maybe_visit(case, uow=uow, deps=deps, caused_by=event)


async def _maybe_visit(case: CaseRecord, *, uow: UnitOfWork, deps: Deps, caused_by: Event) -> None:
    if case.accepted_at is None:
        return
    if case.important:
        decision = "important"
    elif case.decision is None:
        decision = "sampled" if domain.sampled_for_return_visit(case.case_id, deps.sampling_rate) else "not_sampled"
    else:
        return  # decided before; only a later "important" changes a "not sampled"
    if case.decision in ("important", "sampled", "repair"):
        return
    case.decision = decision
    if decision == "not_sampled":
        return
    await _visit(case, purpose="complaint_return_visit", template_id=builtin.COMPLAINT_RETURN_VISIT,
                 uow=uow, deps=deps, caused_by=caused_by)


async def on_repair_accepted(event: RepairAccepted, *, uow: UnitOfWork, deps: Deps) -> None:
    for case_id in dict.fromkeys(event.data.case_ids):
        case = await _case(uow, case_id, event, deps)
        case.project_id = case.project_id or event.data.project_id
        if case.decision in ("important", "sampled", "repair"):
            continue
        case.decision = "repair"
        await _visit(case, purpose="repair_return_visit", template_id=builtin.REPAIR_RETURN_VISIT,
                     uow=uow, deps=deps, caused_by=event, work_order_id=event.data.work_order_id)


async def _visit(
    case: CaseRecord, *, purpose: Any, template_id: str, uow: UnitOfWork, deps: Deps, caused_by: Event,
    work_order_id: uuid.UUID | None = None,
) -> None:
    template = await load_template(uow, template_id)
    await issue_invitations([NewInvitation(
        purpose=purpose, template=template,
        org=OrgPath(group=case.org_group, subsidiary=case.org_subsidiary, project=case.org_project),
        expires_at=deps.clock() + deps.return_visit_valid, correlation_id=case.correlation_id or caused_by.correlation_id,
        reminders=deps.return_visit_reminders, case_id=case.case_id, work_order_id=work_order_id,
        project_id=case.project_id, household_id=case.customer_id,
    )], uow=uow, deps=deps, caused_by=caused_by)


async def return_visit_of(case_id: uuid.UUID, *, uow: UnitOfWork) -> tuple[CaseRecord | None, Invitation | None]:
    case = await uow.session.get(CaseRecord, case_id)
    invitation = (await uow.session.execute(
        sa.select(Invitation).where(Invitation.case_id == case_id))).scalar_one_or_none()
    return case, invitation
