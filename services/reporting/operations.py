"""Projections of repairs, remediations, satisfaction campaigns, project service evaluations, project
flags and each case's first-contact owner (docs/domain.md §4, §5, §6).

Each fact row is merged column by column, whatever order its events arrive in: a column set by one
event only is kept once set (``once``); a time that can only move one way takes the earliest or the
latest (``earliest`` / ``latest``); a count takes the largest seen (``most``); a flag once raised
stays raised (``any``). A newer repair plan replaces an older one (``by_plan``). The statements are
built once, at import, and the rows are deferred to the commit (``UnitOfWork.defer``), so that a
batch's writes go out as a few ``executemany`` calls.
The inbox in the consumer's transaction makes a redelivered event a no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.reporting.models import (
    CampaignFact,
    CaseOwnerFact,
    EvaluationFact,
    ProjectFlagFact,
    RemediationFact,
    RepairFact,
)
from shared.clock import month_of
from shared.db import UnitOfWork
from shared.events import Event, OrgPath, RepairAccepted
from shared.events.cases import CaseOpened
from shared.events.repairs import (
    RecurringDefectDetected,
    RemediationAccepted,
    RepairAcceptanceRejected,
    RepairStepRecorded,
    WorkOrderCaseLinked,
    WorkOrderOpened,
)
from shared.events.surveys import (
    ProjectEvaluationDue,
    ProjectEvaluationOverdue,
    ProjectEvaluationRecorded,
    ProjectFlagged,
    SurveyCampaignClosed,
    SurveyCampaignPlanned,
)

Policy = Literal["once", "earliest", "latest", "most", "any", "by_plan"]
Projection = Callable[[Any, UnitOfWork], Awaitable[None]]


class Merge:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` merging every column by its policy. Every write
    supplies every column (those an event does not know as NULL, counts and flags as 0 / false),
    so that many events' writes go out as one ``executemany``; no policy lets those overwrite a value."""

    def __init__(self, model: Any, key: str, policies: Mapping[str, Policy]) -> None:
        table = model.__table__
        excluded = pg_insert(table).excluded
        set_: dict[str, Any] = {}
        for name, policy in policies.items():
            old, new = table.c[name], excluded[name]
            if policy == "once":
                set_[name] = sa.func.coalesce(old, new)
            elif policy == "earliest":
                set_[name] = sa.func.least(old, new)
            elif policy in ("latest", "most"):
                set_[name] = sa.func.greatest(old, new)
            elif policy == "any":
                set_[name] = sa.or_(old, new)
            elif policy == "by_plan":
                newer = sa.or_(table.c.plan_as_of.is_(None), excluded.plan_as_of > table.c.plan_as_of)
                set_[name] = sa.case((sa.and_(excluded.plan_as_of.is_not(None), newer), new), else_=old)
        self.table, self.key = table.name, key
        self.statement = pg_insert(table).on_conflict_do_update(index_elements=[key], set_=set_)
        self.blank = {c.name: (0 if policies.get(c.name) == "most" else False if policies.get(c.name) == "any"
                               else None) for c in table.columns}

    def write(self, uow: UnitOfWork, event: Event, values: dict[str, Any]) -> None:
        uow.defer(self.statement, {**self.blank, **_org(event.org), **values}, row=(self.table, values[self.key]))


def _org(org: OrgPath) -> dict[str, Any]:
    return {"org_group": org.group, "org_subsidiary": org.subsidiary, "org_project": org.project}


ORG_ONCE: dict[str, Policy] = {"org_subsidiary": "once", "org_project": "once", "project_id": "once"}

REPAIR = Merge(RepairFact, "work_order_id", {
    **ORG_ONCE, "period": "once", "origin": "once", "defect_kind": "once", "in_warranty": "once",
    "chargeable": "once", "quoted_fee": "once", "requested_at": "once", "respond_by": "once",
    "responded_at": "earliest", "finish_by": "by_plan", "plan_as_of": "latest", "work_done_at": "latest",
    "accepted_at": "once", "accepted_period": "once", "rejections": "most", "case_count": "most",
    "quality_verified": "once", "cancelled": "any",
})
REMEDIATION = Merge(RemediationFact, "remediation_id", {
    **ORG_ONCE, "defect_kind": "once", "occurrences": "most", "detected_at": "once", "period": "once",
    "accepted_at": "once", "effective": "once",
})
CAMPAIGN = Merge(CampaignFact, "campaign_id", {
    **ORG_ONCE, **{name: "once" for name in (
        "round_period", "round", "rule", "template_id", "scheme", "occupied_units", "households", "required",
        "drawn", "return_target_percent", "collect_by", "closed_at", "distributed", "returned", "refused",
        "return_rate", "return_ok", "distribution_ok", "annual_coverage_ok", "score", "satisfied")},
})
EVALUATION = Merge(EvaluationFact, "evaluation_id", {
    **ORG_ONCE, "overdue": "any", **{name: "once" for name in (
        "stage", "period", "due_on", "evaluated_on", "sheet_score", "sheet_grade", "project_score",
        "project_grade", "satisfaction_project")},
})
FLAG = pg_insert(ProjectFlagFact.__table__).on_conflict_do_nothing(index_elements=["flag_id"])
CASE_OWNER = pg_insert(CaseOwnerFact.__table__).on_conflict_do_nothing(index_elements=["case_id"])


# --- repairs -------------------------------------------------------------------------------------

async def on_work_order_opened(event: WorkOrderOpened, uow: UnitOfWork) -> None:
    d = event.data
    REPAIR.write(uow, event, {
        "work_order_id": d.work_order_id, "project_id": d.project_id, "period": month_of(d.requested_at),
        "origin": d.origin, "defect_kind": d.defect_kind, "in_warranty": d.in_warranty, "chargeable": d.chargeable,
        "requested_at": d.requested_at, "respond_by": d.respond_by, "case_count": len(d.case_ids),
    })


async def on_work_order_case_linked(event: WorkOrderCaseLinked, uow: UnitOfWork) -> None:
    REPAIR.write(uow, event, {"work_order_id": event.data.work_order_id, "case_count": event.data.case_count})


async def on_repair_step(event: RepairStepRecorded, uow: UnitOfWork) -> None:
    d = event.data
    values: dict[str, Any] = {"work_order_id": d.work_order_id}
    if d.step == "investigate":
        values["responded_at"] = d.at
    elif d.step == "agree_plan" and d.plan is not None:
        values["finish_by"] = d.plan.customer_requested_by or d.plan.planned_finish
        values["plan_as_of"] = d.at
    elif d.step == "complete_work":
        values["work_done_at"] = d.at
    elif d.step == "verify_quality" and d.verification is not None:
        values["quality_verified"] = d.verification.passed
    elif d.step == "cancel":
        values["cancelled"] = True
    else:
        return
    REPAIR.write(uow, event, values)


async def on_repair_acceptance_rejected(event: RepairAcceptanceRejected, uow: UnitOfWork) -> None:
    d = event.data
    REPAIR.write(uow, event, {"work_order_id": d.work_order_id, "project_id": d.project_id,
                                      "rejections": d.rework_count})


async def on_repair_accepted(event: RepairAccepted, uow: UnitOfWork) -> None:
    d = event.data
    REPAIR.write(uow, event, {
        "work_order_id": d.work_order_id, "project_id": d.project_id, "defect_kind": d.defect_kind,
        "in_warranty": d.in_warranty, "chargeable": d.chargeable, "quoted_fee": d.quoted_fee,
        "requested_at": d.requested_at, "period": month_of(d.requested_at), "accepted_at": d.accepted_at,
        "accepted_period": month_of(d.accepted_at), "rejections": d.rework_count or 0, "case_count": len(d.case_ids),
    })


async def on_recurring_defect(event: RecurringDefectDetected, uow: UnitOfWork) -> None:
    d = event.data
    REMEDIATION.write(uow, event, {
        "remediation_id": d.remediation_id, "project_id": d.project_id, "defect_kind": d.defect_kind,
        "occurrences": d.occurrences, "detected_at": d.detected_at, "period": month_of(d.detected_at),
    })


async def on_remediation_accepted(event: RemediationAccepted, uow: UnitOfWork) -> None:
    d = event.data
    REMEDIATION.write(uow, event, {
        "remediation_id": d.remediation_id, "project_id": d.project_id, "defect_kind": d.defect_kind,
        "occurrences": len(d.work_order_ids), "accepted_at": d.accepted_at, "effective": d.effective,
    })


# --- campaigns, evaluations, flags ---------------------------------------------------------------

async def on_campaign_planned(event: SurveyCampaignPlanned, uow: UnitOfWork) -> None:
    d = event.data
    CAMPAIGN.write(uow, event, {
        "campaign_id": d.campaign_id, "project_id": d.project_id, "round_period": d.period, "round": d.round,
        "rule": d.rule, "template_id": d.template_id, "occupied_units": d.occupied_units, "households": d.households,
        "required": d.required, "drawn": d.drawn, "return_target_percent": d.return_target_percent,
        "collect_by": d.collect_by,
    })


async def on_campaign_closed(event: SurveyCampaignClosed, uow: UnitOfWork) -> None:
    d = event.data
    CAMPAIGN.write(uow, event, {
        "campaign_id": d.campaign_id, "project_id": d.project_id, "round_period": d.period, "round": d.round,
        "rule": d.rule, "scheme": d.scheme, "required": d.distribution_required,
        "return_target_percent": d.return_target_percent, "closed_at": d.closed_at, "distributed": d.distributed,
        "returned": d.returned, "refused": d.refused, "return_rate": d.return_rate, "return_ok": d.return_ok,
        "distribution_ok": d.distribution_ok, "annual_coverage_ok": d.annual_coverage_ok, "score": d.score,
        "satisfied": d.satisfied,
    })


async def on_evaluation_scheduled(event: ProjectEvaluationDue | ProjectEvaluationOverdue, uow: UnitOfWork) -> None:
    d = event.data
    EVALUATION.write(uow, event, {
        "evaluation_id": d.evaluation_id, "project_id": d.project_id, "stage": _code(d.stage), "period": d.period, "due_on": d.due_on,
        "overdue": isinstance(event, ProjectEvaluationOverdue),
    })


async def on_evaluation_recorded(event: ProjectEvaluationRecorded, uow: UnitOfWork) -> None:
    d = event.data
    EVALUATION.write(uow, event, {
        "evaluation_id": d.evaluation_id, "project_id": d.project_id,
        "stage": _code(d.stage), "period": d.period,
        "evaluated_on": d.evaluated_on, "sheet_score": d.sheet_score, "sheet_grade": _code(d.sheet_grade),
        "project_score": d.project_score, "project_grade": _code(d.project_grade),
        "satisfaction_project": d.satisfaction_project,
    })


async def on_project_flagged(event: ProjectFlagged, uow: UnitOfWork) -> None:
    d = event.data
    uow.defer(FLAG, {**_org(event.org), "flag_id": d.flag_id, "project_id": d.project_id, "flag": d.flag, "source": d.source, "score": d.score,
        "threshold": d.threshold, "flagged_at": d.flagged_at, "period": month_of(d.flagged_at),
    }, row=("flag", d.flag_id))


async def on_case_opened(event: CaseOpened, uow: UnitOfWork) -> None:
    uow.defer(CASE_OWNER, {"case_id": event.data.case_id, "owner": event.data.first_contact_owner},
              row=("case_owner", event.data.case_id))


def _code(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


PROJECTIONS: dict[str, Projection] = {
    WorkOrderOpened.EVENT_TYPE: on_work_order_opened,
    WorkOrderCaseLinked.EVENT_TYPE: on_work_order_case_linked,
    RepairStepRecorded.EVENT_TYPE: on_repair_step,
    RepairAcceptanceRejected.EVENT_TYPE: on_repair_acceptance_rejected,
    RepairAccepted.EVENT_TYPE: on_repair_accepted,
    RecurringDefectDetected.EVENT_TYPE: on_recurring_defect,
    RemediationAccepted.EVENT_TYPE: on_remediation_accepted,
    SurveyCampaignPlanned.EVENT_TYPE: on_campaign_planned,
    SurveyCampaignClosed.EVENT_TYPE: on_campaign_closed,
    ProjectEvaluationDue.EVENT_TYPE: on_evaluation_scheduled,
    ProjectEvaluationOverdue.EVENT_TYPE: on_evaluation_scheduled,
    ProjectEvaluationRecorded.EVENT_TYPE: on_evaluation_recorded,
    ProjectFlagged.EVENT_TYPE: on_project_flagged,
}

#: Events the case projections already handle that also feed a fact here.
ALSO: dict[str, Projection] = {CaseOpened.EVENT_TYPE: on_case_opened}
