"""Return visits (回访, docs/domain.md §3–§4) triggered by routing's events.

- A complaint whose result the customer accepted gets a return visit when routing decided one
  (ReturnVisitDecided: always for an important complaint; for the others the quality department's
  choice for the case, else routing's rule setting). Nothing is drawn at random here.
- An important complaint gets one even before that decision arrives: routing's events come on
  several topics in no guaranteed order, so the case's importance and its acceptance are both
  remembered, and whichever comes last issues the return visit.
- A repair jointly accepted (RepairAccepted) gets one return visit per case it closes, asking
  about attitude, punctuality and quality.

One case never gets two return visits (a unique index on the invitation's case id).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.survey import builtin
from services.survey.models import CaseRecord, Invitation
from services.survey.service import Deps, NewInvitation, issue_invitations, load_template
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, RepairAccepted
from shared.events.cases import CaseOpened, CaseTransitioned, ComplaintReclassified, ReturnVisitDecided
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


#: Decisions under which the case's return visit has been issued ("sampled": before routing decided).
ISSUED = frozenset({"important", "decided", "repair", "sampled"})


async def _maybe_visit(case: CaseRecord, *, uow: UnitOfWork, deps: Deps, caused_by: Event) -> None:
    if case.accepted_at is None or not case.important or case.decision in ISSUED:
        return
    case.decision = "important"
    await _visit(case, purpose="complaint_return_visit", template_id=builtin.COMPLAINT_RETURN_VISIT,
                 uow=uow, deps=deps, caused_by=caused_by)


async def note_return_visit_decided(event: ReturnVisitDecided, *, uow: UnitOfWork, deps: Deps) -> None:
    """Routing's decision: a visit is issued once it says yes and the customer accepted the result;
    a "no" is remembered ("none") until a later decision says yes."""
    case = await _case(uow, event.data.case_id, event, deps)
    if case.decision in ISSUED:
        return
    if not event.data.return_visit:
        case.decision = "none"
        return
    if not event.data.result_accepted:
        return  # routing decides again when the result is accepted
    if case.accepted_at is None:
        case.accepted_at = event.data.at
    case.decision = "important" if event.data.basis == "important" else "decided"
    await _visit(case, purpose="complaint_return_visit", template_id=builtin.COMPLAINT_RETURN_VISIT,
                 uow=uow, deps=deps, caused_by=event)


async def on_repair_accepted(event: RepairAccepted, *, uow: UnitOfWork, deps: Deps) -> None:
    for case_id in dict.fromkeys(event.data.case_ids):
        case = await _case(uow, case_id, event, deps)
        case.project_id = case.project_id or event.data.project_id
        if case.decision in ISSUED:
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
