"""Warranty repairs' use cases: reports into work orders, the steps of docs/domain.md §4, recurring
defects and their remediation, routing's copy of the projects.

They change state and queue events through the unit of work; the caller commits (the consumer
after a batch, the HTTP route after the request).

How cases reach a work order:
- every complaint or repair request leaves a ``RepairReport`` (defect kind from the vocabulary,
  building / entrance / floor; never the text) in the transaction that opens its case;
- a repair request (报修) is attached to a work order in that same transaction;
- a complaint is attached when routing classifies it class 2 (二类: building quality), whether at
  once, from triage or by a reclassification; the ComplaintClassified / ComplaintReclassified
  events trigger it and the case's current class in routing's table decides, so the order the two
  topics are read in does not matter. A complaint reclassified away from class 2 leaves its work
  order while nothing has been done on it yet.
- attaching joins an open work order of the same project when intake put the households in one
  incident group, or when the place (building, entrance, floor, or a shared part such as 外墙 or
  地下车库) and the defect kind read from the text score at least ``link_threshold``
  (``domain.score_link``; the best-scoring order, on a tie the oldest); otherwise a new work order
  opens. The link keeps its score and the reason in Chinese. Every report keeps its own case.
  Attaching takes a per-project advisory lock, so concurrent consumers never open two work orders
  for one defect.

On the joint acceptance every linked case is named in RepairAccepted, and the handling of each
linked complaint (class 2: building quality) has ended: a case that routing's lifecycle lets be
resolved (``acknowledged`` or ``measures_reported``) is resolved by the system actor, which starts
its 48-hour result-delivery deadline; one still ``assigned`` (nobody acknowledged it: the site team's
contact with the owner was its first response) is acknowledged by the system first, then resolved.
This happens in the acceptance's own transaction, so each case moves once: the acceptance itself
is taken once (a retry with its Idempotency-Key replays the answer, another post gets 409). Any
other case (a repair request, which routing's lifecycle keeps ``received``; one already resolved or
closed) keeps its state and gets a ``repair_accepted`` entry in its history, so its handler sees that
the repair is accepted.
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing import service as case_service
from services.routing.service import with_names_masked
from services.routing.lifecycle import Action, CaseState
from services.routing.models import Case, CaseStepRecord
from services.routing.repairs import domain
from services.routing.repairs.defects import DefectVocabulary
from services.routing.repairs.domain import (
    RemediationState,
    RemediationStep,
    RepairPolicy,
    Step,
    StepInvalid,
    WarrantyStatus,
    WorkOrderState,
)
from services.routing.repairs.models import (
    RemediationItem,
    RemediationStepRecord,
    RepairProject,
    RepairReport,
    RepairRequest,
    WorkOrder,
    WorkOrderCase,
    WorkOrderPhoto,
    WorkOrderStep,
)
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events import FeedbackReceived, OrgPath, RepairAccepted, RepairAcceptedData
from shared.events.catalog import ProjectRegistered
from shared.events.repairs import (
    FeeDecision,
    Inspection,
    QualityVerification,
    RecurringDefectDetected,
    RecurringDefectDetectedData,
    RemediationAccepted,
    RemediationAcceptedData,
    RemediationStepRecorded,
    RemediationStepRecordedData,
    RepairAcceptanceRejected,
    RepairAcceptanceRejectedData,
    RepairPlanDetails,
    RepairStepRecorded,
    RepairStepRecordedData,
    SiteInvestigation,
    WorkOrderCaseLinked,
    WorkOrderCaseLinkedData,
    WorkOrderOpened,
    WorkOrderOpenedData,
)
from shared.events.vocabulary import Department, FeedbackKind

PRODUCER = "routing"
SYSTEM = "system"
REPORTED_KINDS = frozenset({FeedbackKind.COMPLAINT, FeedbackKind.REPAIR_REQUEST})
#: Complaint states in which a case no longer takes a work order.
CASE_FINISHED = frozenset({CaseState.CLOSED, CaseState.HANDED_OVER, CaseState.INVALID_EXPLAINED})
#: Complaint states in which a class-2 complaint is not (yet, or any longer) put on a work order.
NOT_ON_WORK_ORDERS = frozenset({CaseState.RECEIVED, CaseState.TRIAGE, *CASE_FINISHED})
#: Complaint states from which the joint acceptance resolves the case.
RESOLVABLE = frozenset({CaseState.ACKNOWLEDGED, CaseState.MEASURES_REPORTED})
#: Complaint states the joint acceptance acknowledges first (then resolves).
ACKNOWLEDGED_BY_ACCEPTANCE = frozenset({CaseState.ASSIGNED})


@dataclass(frozen=True)
class RepairCollaborators:
    """What the repair use cases need besides the unit of work (wired in app.py)."""

    clock: Clock
    policy: RepairPolicy
    vocabulary: DefectVocabulary
    cases: case_service.Collaborators  # routing's own case use cases move linked cases on


class WorkOrderNotFound(LookupError):
    pass


class RemediationNotFound(LookupError):
    pass


class IdempotencyKeyReused(Exception):
    """The key was used before for a different request."""


def org_of(row: Any) -> OrgPath:
    return OrgPath(group=row.org_group, subsidiary=row.org_subsidiary, project=row.org_project)


def _emit(uow: UnitOfWork, event_cls: Any, row: Any, data: Any, now: datetime, *, caused_by: Any = None) -> None:
    data = with_names_masked(data, getattr(row, "customer_name_marks", None))
    uow.publish(event_cls.create(
        data=data, org=org_of(row), aggregate_id=row.id, occurred_at=now, producer=PRODUCER,
        correlation_id=row.correlation_id, caused_by=caused_by,
    ))


# --- routing's copy of the projects -------------------------------------------------------------


async def record_project(event: ProjectRegistered, *, uow: UnitOfWork, now: datetime) -> None:
    """Keep the newest revision of a project (for its warranty period); older ones change nothing."""
    d = event.data
    values = dict(name=d.name, stage=d.stage.value, completion_date=d.completion_date, warranty_end=d.warranty_end,
                  org_group=event.org.group, org_subsidiary=event.org.subsidiary, org_project=event.org.project,
                  revision=d.revision, updated_at=now)
    await uow.session.execute(
        pg_insert(RepairProject).values(project_id=d.project_id, **values)
        .on_conflict_do_update(index_elements=[RepairProject.project_id], set_=values,
                               where=RepairProject.revision < d.revision)
    )


# --- reports and work orders ---------------------------------------------------------------------


# an executemany (not ManyRows: its array columns would not survive unnest)
_REPORT_ROWS = pg_insert(RepairReport.__table__).on_conflict_do_nothing()


async def record_report(event: FeedbackReceived, case_id: uuid.UUID, *, uow: UnitOfWork,
                        deps: RepairCollaborators, new_case: bool = False) -> uuid.UUID | None:
    """What a complaint or repair request says about a defect, kept beside its case.

    A repair request goes onto a work order at once; returns that work order's id. ``new_case``:
    the case was opened in this transaction, so it has no report yet.
    """
    data = event.data
    if data.kind not in REPORTED_KINDS:
        return None
    match = deps.vocabulary.classify(data.text)
    location = domain.parse_location(data.unit, data.text)
    part = domain.read_shared_part(data.unit, data.text)
    row = dict(
        case_id=case_id, feedback_id=data.feedback_id, kind=data.kind.value,
        project_id=data.project_id or event.org.project or "unassigned", unit=data.unit or location.label,
        building=location.building, entrance=location.entrance, floor=location.floor, room=location.room,
        shared_part=part.key if part else None,
        defect_kind=match.kind, defect_phrases=list(match.phrases), vocabulary_version=match.vocabulary_version,
        incident_group_id=data.incident_group_id, attachments=list(data.attachments),
        received_at=data.received_at, org_group=event.org.group, org_subsidiary=event.org.subsidiary,
        org_project=event.org.project, correlation_id=event.correlation_id,
    )
    if data.kind is not FeedbackKind.REPAIR_REQUEST or not new_case:
        # with the unit of work's deferred writes: one statement for a batch of complaints
        uow.defer(_REPORT_ROWS, row, row=("repair_report", case_id))
        if data.kind is not FeedbackKind.REPAIR_REQUEST:
            return None
        report = None
    else:
        # written with the work order's rows, in the statement that puts the case on one (_write_new)
        report = RepairReport(**row)
    # A repair request is put on a work order at once, reading the project's work orders and the
    # reports on them, which are always written at once (so is every case). Only a report deferred
    # just above (the case was opened before) is read back and must go out first; flushing for every
    # repair request would cut the batch's deferred rows into many small statements.
    if report is None:
        await uow.flush()
    work_order = await attach_case(case_id, uow=uow, deps=deps, caused_by=event, report=report)
    return work_order.id if work_order else None


async def reconcile_complaint(case_id: uuid.UUID, *, uow: UnitOfWork, deps: RepairCollaborators,
                             caused_by: Any = None) -> uuid.UUID | None:
    """A complaint's class changed: class 2 puts it on a work order, another class takes it off.

    Reads the case's current class, so a classification and a reclassification read in either
    order end the same way. Returns the work order the case is on afterwards.
    """
    if uow.session.new or uow.session.dirty or uow.session.deleted:
        await uow.session.flush()  # what the session changed of the case first, as an ORM query would
    rows = await uow.fetch(_CASE_CLASS, {"case_id": case_id})  # with its work order
    if not rows or rows[0][0] != FeedbackKind.COMPLAINT.value:
        return None
    _kind, status, complaint_class, work_order_id = rows[0]
    state = CaseState(status)
    if complaint_class == 2 and state not in NOT_ON_WORK_ORDERS:
        if work_order_id is not None:
            return work_order_id
        work_order = await attach_case(case_id, uow=uow, deps=deps, caused_by=caused_by)
        return work_order.id if work_order else None
    if complaint_class != 2 and work_order_id is not None:
        link = await uow.session.get(WorkOrderCase, case_id)
        assert link is not None
        return await _detach(link, complaint_class=complaint_class, uow=uow, deps=deps, caused_by=caused_by)
    return work_order_id


#: The projects whose lock each transaction holds (by the session's transaction, which a commit or
#: rollback ends): the lock is held until the transaction ends, so taking it again in the same one
#: would only cost a round trip.
_locked_projects: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


# Built once (each attach and reconciliation runs them): a statement built per call costs more to
# build and to find in SQLAlchemy's cache than to run.
_wo, _link_t, _rr = WorkOrder.__table__, WorkOrderCase.__table__, RepairReport.__table__
_cases = Case.__table__
_CASE_CLASS = (
    sa.select(_cases.c.kind, _cases.c.status, _cases.c.complaint_class, _link_t.c.work_order_id)
    .select_from(_cases.outerjoin(_link_t, _link_t.c.case_id == _cases.c.id))
    .where(_cases.c.id == sa.bindparam("case_id"))
)
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))")
_LINKED_TO = sa.select(_link_t.c.work_order_id).where(_link_t.c.case_id == sa.bindparam("case_id"))
_LINKABLE = (
    sa.select(_wo.c.id, _wo.c.defect_kind, _rr.c.project_id, _rr.c.defect_kind.label("report_kind"),
              _rr.c.incident_group_id, _rr.c.building, _rr.c.entrance, _rr.c.floor, _rr.c.room,
              _rr.c.shared_part)
    .select_from(_wo.join(_link_t, _link_t.c.work_order_id == _wo.c.id).join(_rr, _rr.c.case_id == _link_t.c.case_id))
    .where(_wo.c.project_id == sa.bindparam("project_id"), _wo.c.org_group == sa.bindparam("org_group"),
           _wo.c.status == sa.func.any(sa.bindparam("linkable", sorted(s.value for s in domain.LINKABLE_STATES),
                                                    type_=ARRAY(sa.Text))))
    .order_by(_wo.c.opened_at, _wo.c.id)
)


async def _lock_project(uow: UnitOfWork, project_id: str) -> None:
    """Attaching is serialised per project: two consumers never open two orders for one defect."""
    transaction = uow.session.sync_session.get_transaction()
    held = _locked_projects.setdefault(transaction, set()) if transaction is not None else set()
    if project_id in held:
        return
    await uow.fetch(_LOCK, {"k": f"careloop:routing:repairs:{project_id}"})
    transaction = uow.session.sync_session.get_transaction()  # begun by the statement if not before
    if transaction is not None:
        _locked_projects.setdefault(transaction, set()).add(project_id)


class _StoredReport(SimpleNamespace):
    """A case's report as stored: read for attaching, never changed (reports are written once)."""


_projects = RepairProject.__table__
_PROJECT_WARRANTY = sa.select(_projects.c.completion_date, _projects.c.warranty_end).where(
    _projects.c.project_id == sa.bindparam("project_id", type_=sa.Text))
_REPORT_FIELDS = tuple(_rr.c.keys())
_REPORT = sa.select(*_rr.c).where(_rr.c.case_id == sa.bindparam("case_id", type_=_rr.c.case_id.type))


async def _report_of(case_id: uuid.UUID, *, uow: UnitOfWork,
                     deps: RepairCollaborators) -> RepairReport | _StoredReport:
    rows = await uow.fetch(_REPORT, {"case_id": case_id})  # a plain row: no ORM object to load
    if rows:
        return _StoredReport(**dict(zip(_REPORT_FIELDS, rows[0], strict=True)))
    # A case opened before this module ran has no report: its place is known, its defect is not.
    case = await uow.session.get(Case, case_id)
    if case is None:
        raise case_service.CaseNotFound(str(case_id))
    location = domain.parse_location(case.unit)
    part = domain.read_shared_part(case.unit)
    report = RepairReport(
        case_id=case.id, feedback_id=case.feedback_id, kind=case.kind,
        project_id=case.project_id or case.org_project or "unassigned", unit=case.unit,
        building=location.building, entrance=location.entrance, floor=location.floor, room=location.room,
        shared_part=part.key if part else None,
        defect_kind=deps.vocabulary.fallback, defect_phrases=[], vocabulary_version=deps.vocabulary.version,
        incident_group_id=case.incident_group_id, attachments=[], received_at=case.received_at,
        org_group=case.org_group, org_subsidiary=case.org_subsidiary, org_project=case.org_project,
        correlation_id=case.correlation_id,
    )
    uow.session.add(report)
    return report


def _facts(report: RepairReport) -> domain.Report:
    return domain.Report(
        project_id=report.project_id, defect_kind=report.defect_kind, incident_group_id=report.incident_group_id,
        location=domain.Location(report.building, report.entrance, report.floor, report.room),
        shared_part=getattr(report, "shared_part", None),
    )


async def attach_case(case_id: uuid.UUID, *, uow: UnitOfWork, deps: RepairCollaborators,
                      caused_by: Any = None, report: RepairReport | None = None) -> WorkOrder | None:
    """Put a case on the open work order about the same defect, or open one for it (``report``:
    the report of a case opened in this transaction, which the caller has at hand)."""
    session = uow.session
    new_report = report is not None
    if report is None:
        report = await _report_of(case_id, uow=uow, deps=deps)
    await _lock_project(uow, report.project_id)
    # (a report at hand is a new case's, on no work order yet; otherwise look again, under the lock)
    linked = [] if new_report else await uow.fetch(_LINKED_TO, {"case_id": case_id})
    if linked:
        return await session.get(WorkOrder, linked[0][0])
    now = deps.clock()
    # The project's linkable work orders, oldest first, each with the reports already on it: plain
    # rows (no ORM objects for what is only compared); the one chosen is loaded.
    rows = await uow.fetch(_LINKABLE, {"project_id": report.project_id, "org_group": report.org_group})
    candidates: dict[uuid.UUID, tuple[str, list[domain.Report]]] = {}
    for (work_order_id, defect_kind, project_id, report_kind, incident_group_id, building, entrance, floor,
         room, part) in rows:
        candidates.setdefault(work_order_id, (defect_kind, []))[1].append(domain.Report(
            project_id=project_id, defect_kind=report_kind, incident_group_id=incident_group_id,
            location=domain.Location(building, entrance, floor, room), shared_part=part))
    facts = _facts(report)
    # The work order whose reports score highest (place and defect kind, domain.score_link) from the
    # threshold on; on a tie the oldest.
    chosen: tuple[uuid.UUID, domain.LinkScore] | None = None
    for work_order_id, (defect_kind, linked) in candidates.items():
        best = domain.best_link(facts, linked, defect_kind=defect_kind, policy=deps.policy,
                                kind_label=deps.vocabulary.labels.get(defect_kind),
                                fallback_kind=deps.vocabulary.fallback)
        if best is not None and (chosen is None or best.score > chosen[1].score):
            chosen = (work_order_id, best)
    if chosen is not None:
        work_order = await session.get(WorkOrder, chosen[0])
        assert work_order is not None
        await _link(work_order, report, chosen[1], uow=uow, now=now, caused_by=caused_by)
        return work_order
    return await _open(report, uow=uow, deps=deps, now=now, caused_by=caused_by)


async def _add_photos(uow: UnitOfWork, work_order_id: uuid.UUID, refs: Sequence[str], *, by: str, at: datetime,
                      step_id: int | None = None) -> list[str]:
    """Attach photo references once each; returns those that were new."""
    if not refs:
        return []
    result = await uow.session.execute(
        pg_insert(WorkOrderPhoto)
        .values([{"work_order_id": work_order_id, "step_id": step_id, "ref": ref, "added_by": by, "added_at": at}
                 for ref in dict.fromkeys(refs)])
        .on_conflict_do_nothing(constraint="uq_work_order_photo")
        .returning(WorkOrderPhoto.ref)
    )
    return [row.ref for row in result]


async def _name_marks_of_case(uow: UnitOfWork, case_id: uuid.UUID) -> list[str]:
    """The marks of the names of a case's customer (a work order's notes may name any of them)."""
    return list(await uow.session.scalar(sa.select(Case.customer_name_marks).where(Case.id == case_id)) or [])


async def _open(report: RepairReport, *, uow: UnitOfWork, deps: RepairCollaborators, now: datetime,
                caused_by: Any) -> WorkOrder:
    session = uow.session
    project = await uow.fetch(_PROJECT_WARRANTY, {"project_id": report.project_id})
    decision = domain.check_warranty(domain.ProjectWarranty(*project[0]) if project else None, report.received_at)
    work_order = WorkOrder(
        id=uuid.uuid4(), status=WorkOrderState.OPENED.value, origin=report.kind, project_id=report.project_id,
        org_group=report.org_group, org_subsidiary=report.org_subsidiary, org_project=report.org_project,
        defect_kind=report.defect_kind, vocabulary_version=report.vocabulary_version, building=report.building,
        unit=report.unit, requested_at=report.received_at, warranty_status=decision.status.value,
        warranty_end=decision.warranty_end, warranty_explanation=decision.explanation,
        in_warranty=decision.in_warranty, chargeable=domain.chargeable(in_warranty=decision.in_warranty, in_scope=None),
        respond_by=domain.respond_by(decision, report.received_at, deps.policy), rework_count=0,
        correlation_id=report.correlation_id, opened_at=now,
        customer_name_marks=await _name_marks_of_case(uow, report.case_id),
    )
    await _write_new(uow, report, work_order=work_order, link=WorkOrderCase(
        case_id=report.case_id, work_order_id=work_order.id, link_reason="opened", linked_at=now,
    ), step=WorkOrderStep(
        work_order_id=work_order.id, step="open", previous_state="new", state=work_order.status, actor=SYSTEM,
        at=now, note=f"{report.kind} case {report.case_id}; {decision.explanation}",
        details={"case_id": str(report.case_id), "defect_phrases": list(report.defect_phrases or [])},
    ))
    await _add_photos(uow, work_order.id, report.attachments or [], by="intake", at=now)
    _emit(uow, WorkOrderOpened, work_order, WorkOrderOpenedData(
        work_order_id=work_order.id, project_id=work_order.project_id, origin=report.kind,  # type: ignore[arg-type]
        case_ids=(report.case_id,), defect_kind=work_order.defect_kind,
        defect_vocabulary_version=work_order.vocabulary_version, building=work_order.building, unit=work_order.unit,
        incident_group_id=report.incident_group_id, requested_at=work_order.requested_at,
        warranty_status=decision.status.value, in_warranty=decision.in_warranty,  # type: ignore[arg-type]
        warranty_end=decision.warranty_end, chargeable=work_order.chargeable, respond_by=work_order.respond_by,
    ), now, caused_by=caused_by)
    await _count_recurrence(work_order, uow=uow, deps=deps, now=now)
    return work_order


async def _link(work_order: WorkOrder, report: RepairReport, score: domain.LinkScore, *, uow: UnitOfWork,
                now: datetime, caused_by: Any) -> None:
    # The household that reported first sets the request time (the warranty was decided on it).
    # Only the work order is shared: the case keeps its own deadlines, result and acceptance.
    if report.received_at < work_order.requested_at:
        work_order.requested_at = report.received_at
    if marks := await _name_marks_of_case(uow, report.case_id):
        work_order.customer_name_marks = sorted({*(work_order.customer_name_marks or ()), *marks})
    reason = score.reason
    count = await _write_new(uow, report, link=WorkOrderCase(
        case_id=report.case_id, work_order_id=work_order.id, link_reason=reason, linked_at=now,
        link_score=score.score, link_explanation=score.explanation,
    ), step=WorkOrderStep(
        work_order_id=work_order.id, step="link_case", previous_state=work_order.status, state=work_order.status,
        actor=SYSTEM, at=now, note=f"{report.kind} case {report.case_id} ({reason}; {score.explanation})",
        details={"case_id": str(report.case_id), "link_reason": reason, "link_score": score.score},
    ), count_cases=True)
    await _add_photos(uow, work_order.id, report.attachments or [], by="intake", at=now)
    _emit(uow, WorkOrderCaseLinked, work_order, WorkOrderCaseLinkedData(
        work_order_id=work_order.id, case_id=report.case_id, link_reason=reason,  # type: ignore[arg-type]
        case_count=count, at=now, link_score=score.score, link_explanation=score.explanation,
    ), now, caused_by=caused_by)


def _new_values(obj: Any) -> dict[str, Any]:
    """A new row's values from its (transient) ORM object, as bound; what is unset is left to the
    table. JSON goes as its text (see ``_insert_of``)."""
    values = {}
    for column in type(obj).__table__.columns:
        value = getattr(obj, column.key, None)
        if value is not None:
            values[column.key] = json.dumps(value) if isinstance(column.type, JSONB) else value
    return values


def _insert_of(table: sa.Table, keys: Sequence[str], prefix: str) -> Any:
    """INSERT of ``keys`` into ``table``, each value a parameter named ``prefix + key``. JSON columns
    take text cast in SQL: the same parameter whether the driver or SQLAlchemy binds it."""
    return sa.insert(table).values({
        key: sa.cast(sa.bindparam(prefix + key, type_=sa.Text), JSONB) if isinstance(table.c[key].type, JSONB)
        else sa.bindparam(prefix + key, type_=table.c[key].type)
        for key in keys
    })


#: _write_new's statements by shape (which rows, which of their columns are set, whether counted):
#: building an INSERT of some forty values per repair request cost more than running it.
_write_statements: dict[tuple[Any, ...], Any] = {}


def _write_statement(shape: tuple[tuple[str, tuple[str, ...]], ...], count_cases: bool) -> Any:
    key = (shape, count_cases)
    statement = _write_statements.get(key)
    if statement is not None:
        return statement
    tables = {"report_": RepairReport.__table__, "work_order_": WorkOrder.__table__,
              "link_": WorkOrderCase.__table__, "step_": WorkOrderStep.__table__}
    ctes = [_insert_of(tables[prefix], keys, prefix).cte(f"new_{prefix.rstrip('_')}") for prefix, keys in shape[:-1]]
    prefix, keys = shape[-1]
    steps = _insert_of(tables[prefix], keys, prefix)
    if not count_cases:
        statement = steps.add_cte(*ctes)
    else:
        # The count's snapshot is from before the statement's own link (it is the project's lock
        # that keeps other transactions from linking cases to this work order meanwhile).
        links = WorkOrderCase.__table__
        statement = (sa.select(sa.func.count() + 1).select_from(links)
                     .where(links.c.work_order_id == sa.bindparam("counted_work_order", type_=links.c.work_order_id.type))
                     .add_cte(*ctes, steps.cte("new_step")))
    _write_statements[key] = statement
    return statement


async def _write_new(uow: UnitOfWork, report: RepairReport, *, link: WorkOrderCase, step: WorkOrderStep,
                     work_order: WorkOrder | None = None, count_cases: bool = False) -> int | None:
    """A case's new rows on a work order (the link and its step; the work order when it opens; the
    report when it is new, i.e. not in the session) in one statement; ``count_cases``: returns how many
    cases the work order has now. Whatever the session holds goes out first (a report made for a case
    opened before this module, the work order's request time)."""
    session = uow.session
    if session.new or session.dirty or session.deleted:
        await session.flush()
    rows: list[tuple[str, Any]] = []
    if isinstance(report, RepairReport) and sa.inspect(report).transient:
        rows.append(("report_", report))
    if work_order is not None:
        rows.append(("work_order_", work_order))
    rows += [("link_", link), ("step_", step)]
    params: dict[str, Any] = {}
    shape = []
    for prefix, obj in rows:
        values = _new_values(obj)
        shape.append((prefix, tuple(values)))
        params.update((prefix + key, value) for key, value in values.items())
    if count_cases:
        params["counted_work_order"] = link.work_order_id
    result = await uow.fetch(_write_statement(tuple(shape), count_cases), params)
    return int(result[0][0]) if count_cases else None


async def _detach(link: WorkOrderCase, *, complaint_class: int | None, uow: UnitOfWork, deps: RepairCollaborators,
                  caused_by: Any) -> uuid.UUID | None:
    """A complaint reclassified away from class 2 leaves a work order on which nothing was done yet;
    a work order left without cases is cancelled. Once work began, the case stays (noted)."""
    session = uow.session
    work_order = await _load(uow, link.work_order_id)
    now = deps.clock()
    note = f"case {link.case_id} reclassified to class {complaint_class}"
    if WorkOrderState(work_order.status) is not WorkOrderState.OPENED:
        session.add(WorkOrderStep(work_order_id=work_order.id, step="note", previous_state=work_order.status,
                                  state=work_order.status, actor=SYSTEM, at=now,
                                  note=note + "; kept on the work order because work on it has begun"))
        return work_order.id
    await session.delete(link)
    await session.flush()
    remaining = (await session.execute(sa.select(sa.func.count()).select_from(WorkOrderCase)
                                       .where(WorkOrderCase.work_order_id == work_order.id))).scalar_one()
    step = Step.CANCEL if remaining == 0 else None
    previous = WorkOrderState(work_order.status)
    state = domain.next_state(Step.CANCEL, previous) if step else previous
    work_order.status = state.value
    session.add(WorkOrderStep(work_order_id=work_order.id, step=step.value if step else "detach_case",
                              previous_state=previous.value, state=state.value, actor=SYSTEM, at=now, note=note,
                              details={"case_id": str(link.case_id)}))
    _emit(uow, RepairStepRecorded, work_order, RepairStepRecordedData(
        work_order_id=work_order.id, step=step.value if step else "detach_case", previous_state=previous.value,
        state=state.value, actor=SYSTEM, at=now, note=note, case_id=link.case_id,
    ), now, caused_by=caused_by)
    return None


async def _count_recurrence(work_order: WorkOrder, *, uow: UnitOfWork, deps: RepairCollaborators,
                            now: datetime) -> None:
    """A defect kind repaired again and again in one project (质量通病) raises a remediation item.

    Counted in work orders within the window (``domain.recurring_set``); work orders already
    behind an accepted remediation do not count again, so the count starts afresh after one.
    """
    session = uow.session
    if work_order.defect_kind == deps.vocabulary.fallback:
        return
    open_item = (await session.execute(
        sa.select(RemediationItem).where(
            RemediationItem.project_id == work_order.project_id, RemediationItem.defect_kind == work_order.defect_kind,
            RemediationItem.status != RemediationState.ACCEPTED.value).with_for_update()
    )).scalar_one_or_none()
    if open_item is not None:
        # the work order was written in a statement of its own (_write_new), not by the session
        wo = WorkOrder.__table__
        await session.execute(sa.update(wo).where(wo.c.id == work_order.id)
                              .values(remediation_id=open_item.id, version=wo.c.version + 1))
        work_order.remediation_id = open_item.id
        open_item.occurrences += 1
        _remediation_step(uow, open_item, "add_occurrence", RemediationState(open_item.status), actor=SYSTEM,
                          now=now, note=f"work order {work_order.id}", work_order_id=work_order.id)
        return
    earliest, latest = domain.recurrence_search_span(work_order.requested_at, deps.policy)
    candidates = {w.id: w for w in (await session.execute(
        sa.select(WorkOrder).where(
            WorkOrder.project_id == work_order.project_id, WorkOrder.defect_kind == work_order.defect_kind,
            WorkOrder.status != WorkOrderState.CANCELLED.value, WorkOrder.remediation_id.is_(None),
            WorkOrder.requested_at > earliest, WorkOrder.requested_at < latest,
        )
    )).scalars()}
    recurrent = domain.recurring_set([(w.id, w.requested_at) for w in candidates.values()],
                                     at=work_order.requested_at, defect_kind=work_order.defect_kind,
                                     policy=deps.policy, fallback_kind=deps.vocabulary.fallback)
    if not recurrent:
        return
    counted = [candidates[key] for key in recurrent]
    item = RemediationItem(
        id=uuid.uuid4(), status=RemediationState.RAISED.value, project_id=work_order.project_id,
        defect_kind=work_order.defect_kind, org_group=work_order.org_group, org_subsidiary=work_order.org_subsidiary,
        org_project=work_order.org_project, occurrences=len(counted), threshold=deps.policy.recurrence_threshold,
        window_days=deps.policy.recurrence_window_days, detected_at=now, correlation_id=uuid.uuid4(),
    )
    session.add(item)
    await session.flush()
    for counted_order in counted:
        counted_order.remediation_id = item.id
    session.add(RemediationStepRecord(
        remediation_id=item.id, step="raise", previous_state="new", state=item.status, actor=SYSTEM, at=now,
        note=f"{len(counted)} repairs of {item.defect_kind} within {item.window_days} days",
        details={"work_order_ids": [str(w.id) for w in counted]},
    ))
    _emit(uow, RecurringDefectDetected, item, RecurringDefectDetectedData(
        remediation_id=item.id, project_id=item.project_id, defect_kind=item.defect_kind,
        work_order_ids=tuple(w.id for w in counted), occurrences=len(counted), threshold=item.threshold,
        window_days=item.window_days, detected_at=now,
    ), now)


# --- the steps -----------------------------------------------------------------------------------


async def _load(uow: UnitOfWork, work_order_id: uuid.UUID, *, for_update: bool = True) -> WorkOrder:
    query = sa.select(WorkOrder).where(WorkOrder.id == work_order_id)
    if for_update:
        query = query.with_for_update()
    work_order = (await uow.session.execute(query)).scalar_one_or_none()
    if work_order is None:
        raise WorkOrderNotFound(str(work_order_id))
    return work_order


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


async def _advance(
    uow: UnitOfWork, work_order: WorkOrder, step: Step, *, actor: str, now: datetime, note: str | None = None,
    photos: Sequence[str] = (), client_step_id: str | None = None, emit: bool = True,
    **details: Any,
) -> tuple[WorkOrderState, WorkOrderState]:
    """Move the work order by one step and record who did it, when, with which photos."""
    previous = WorkOrderState(work_order.status)
    state = domain.next_state(step, previous, chargeable=work_order.chargeable,
                              quality_verified=work_order.quality_verified_at is not None)
    if problems := domain.photo_problems(photos):
        raise StepInvalid(problems[0], "a photo is an object key or URL, never the picture itself")
    work_order.status = state.value
    record = WorkOrderStep(
        work_order_id=work_order.id, step=step.value, previous_state=previous.value, state=state.value, actor=actor,
        at=now, note=note, client_step_id=client_step_id,
        details={k: _dump(v) for k, v in details.items() if v is not None} | ({"photos": list(photos)} if photos else {}),
    )
    uow.session.add(record)
    await uow.session.flush()
    await _add_photos(uow, work_order.id, photos, by=actor, at=now, step_id=record.id)
    if emit:
        _emit(uow, RepairStepRecorded, work_order, RepairStepRecordedData(
            work_order_id=work_order.id, step=step.value, previous_state=previous.value, state=state.value,
            actor=actor, at=now, note=note, client_step_id=client_step_id, photos=tuple(photos), **details,
        ), now)
    return previous, state


async def assign(work_order_id: uuid.UUID, *, assignee: str, actor: str, note: str | None = None,
                 client_step_id: str | None = None, uow: UnitOfWork, deps: RepairCollaborators) -> WorkOrder:
    work_order = await _load(uow, work_order_id)
    await _advance(uow, work_order, Step.ASSIGN, actor=actor, now=deps.clock(), note=note,
                   client_step_id=client_step_id, assignee=assignee)
    work_order.assignee = assignee
    return work_order


async def investigate(
    work_order_id: uuid.UUID, *, nature: str, cause: str, responsibility: str, in_scope: bool | None, actor: str,
    note: str | None = None, photos: Sequence[str] = (), client_step_id: str | None = None, uow: UnitOfWork,
    deps: RepairCollaborators,
) -> WorkOrder:
    """The site investigation: nature, cause, responsibility. It is the site response of the 24-hour
    service, it settles whether the repair is in scope (and so whether it is chargeable), and the
    investigator becomes the assignee when nobody was named."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    domain.next_state(Step.INVESTIGATE, WorkOrderState(work_order.status))
    if WarrantyStatus(work_order.warranty_status) is WarrantyStatus.UNKNOWN:
        # The project may have become known since the order opened: decide the warranty now.
        project = await uow.session.get(RepairProject, work_order.project_id)
        if project is not None:
            decision = domain.check_warranty(domain.ProjectWarranty(project.completion_date, project.warranty_end),
                                             work_order.requested_at)
            work_order.warranty_status, work_order.warranty_end = decision.status.value, decision.warranty_end
            work_order.warranty_explanation, work_order.in_warranty = decision.explanation, decision.in_warranty
    scope = in_scope if in_scope is not None else responsibility not in domain.OUT_OF_SCOPE_RESPONSIBILITIES
    work_order.in_scope = scope
    work_order.chargeable = domain.chargeable(in_warranty=work_order.in_warranty, in_scope=scope)
    investigation = SiteInvestigation(nature=nature, cause=cause, responsibility=responsibility,  # type: ignore[arg-type]
                                      in_scope=scope)
    await _advance(uow, work_order, Step.INVESTIGATE, actor=actor, now=now, note=note, photos=photos,
                   client_step_id=client_step_id, investigation=investigation)
    work_order.investigation = investigation.model_dump(mode="json")
    work_order.responded_at = now
    if work_order.assignee is None:
        work_order.assignee = actor
    return work_order


async def agree_plan(
    work_order_id: uuid.UUID, *, scope: str, duration_hours: float, cost: Decimal | None, resources: str,
    planned_finish: datetime | None, customer_requested_by: datetime | None, quoted_fee: Decimal | None,
    agreed_with: str, actor: str, note: str | None = None, photos: Sequence[str] = (),
    client_step_id: str | None = None, uow: UnitOfWork, deps: RepairCollaborators,
) -> WorkOrder:
    """The repair plan agreed with the owner (scope, duration, cost, resources). A chargeable first
    plan quotes the fee and waits for the customer's confirmation; a revised plan after rework is
    at our cost."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    state = WorkOrderState(work_order.status)
    domain.next_state(Step.AGREE_PLAN, state, chargeable=work_order.chargeable)
    first_plan = state is WorkOrderState.INVESTIGATED
    charge = work_order.chargeable and first_plan
    terms = domain.PlanTerms(at=now, duration_hours=duration_hours, planned_finish=planned_finish,
                             customer_requested_by=customer_requested_by, quoted_fee=quoted_fee)
    due = domain.check_plan(terms, in_warranty=work_order.in_warranty, chargeable=charge, first_plan=first_plan)
    plan = RepairPlanDetails(
        scope=scope, duration_hours=duration_hours, cost=cost, resources=resources, planned_finish=terms.finish(),
        customer_requested_by=customer_requested_by, chargeable=charge, quoted_fee=quoted_fee if charge else None,
        agreed_with=agreed_with,  # type: ignore[arg-type]
    )
    await _advance(uow, work_order, Step.AGREE_PLAN, actor=actor, now=now, note=note, photos=photos,
                   client_step_id=client_step_id, plan=plan)
    work_order.plan = plan.model_dump(mode="json")
    work_order.customer_requested_by = customer_requested_by or work_order.customer_requested_by
    work_order.due_at = due
    if charge:
        work_order.quoted_fee = quoted_fee
    return work_order


async def decide_fee(
    work_order_id: uuid.UUID, *, confirmed: bool, decided_by: str, reason: str | None, actor: str,
    note: str | None = None, client_step_id: str | None = None, uow: UnitOfWork, deps: RepairCollaborators,
) -> WorkOrder:
    """The customer confirms the quoted fee (work may start) or declines it (no work is done)."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    step = Step.CONFIRM_FEE if confirmed else Step.DECLINE_FEE
    domain.next_state(step, WorkOrderState(work_order.status))
    if not confirmed and not reason:
        raise StepInvalid("reason", "a declined fee is recorded with the customer's reason")
    decision = FeeDecision(confirmed=confirmed, quoted_fee=work_order.quoted_fee or Decimal(0),
                           decided_by=decided_by, reason=reason)  # type: ignore[arg-type]
    await _advance(uow, work_order, step, actor=actor, now=now, note=note, client_step_id=client_step_id,
                   fee_decision=decision)
    work_order.fee_decided_by = decided_by
    if confirmed:
        work_order.fee_confirmed_at = now
    return work_order


async def complete_work(work_order_id: uuid.UUID, *, actor: str, note: str | None = None,
                        photos: Sequence[str] = (), client_step_id: str | None = None, uow: UnitOfWork,
                        deps: RepairCollaborators) -> WorkOrder:
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    await _advance(uow, work_order, Step.COMPLETE_WORK, actor=actor, now=now, note=note, photos=photos,
                   client_step_id=client_step_id)
    work_order.work_done_at = now
    return work_order


async def self_inspect(work_order_id: uuid.UUID, *, passed: bool, findings: str | None, actor: str,
                       note: str | None = None, photos: Sequence[str] = (), client_step_id: str | None = None,
                       uow: UnitOfWork, deps: RepairCollaborators) -> WorkOrder:
    """Our own inspection before the owner is asked to accept; a failed one sends it to rework."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    step = Step.SELF_INSPECT if passed else Step.FAIL_SELF_INSPECTION
    domain.next_state(step, WorkOrderState(work_order.status))
    if not passed and not findings:
        raise StepInvalid("findings", "a failed self-inspection says what failed")
    await _advance(uow, work_order, step, actor=actor, now=now, note=note, photos=photos,
                   client_step_id=client_step_id, inspection=Inspection(passed=passed, findings=findings))
    work_order.self_inspected_at, work_order.self_inspected_by = now, actor
    return work_order


async def case_ids_of(work_order_id: uuid.UUID, *, uow: UnitOfWork) -> list[uuid.UUID]:
    rows = await uow.session.execute(
        sa.select(WorkOrderCase.case_id).where(WorkOrderCase.work_order_id == work_order_id)
        .order_by(WorkOrderCase.linked_at, WorkOrderCase.case_id))
    return list(rows.scalars())


async def joint_acceptance(
    work_order_id: uuid.UUID, *, accepted: bool, actor: str, owner_signature_ref: str | None = None,
    owner_signer_role: str | None = None, owner_signer_customer_id: uuid.UUID | None = None,
    contractor_signature_ref: str | None = None, contractor_signer: str | None = None, reason: str | None = None,
    note: str | None = None, photos: Sequence[str] = (), client_step_id: str | None = None, uow: UnitOfWork,
    deps: RepairCollaborators,
) -> WorkOrder:
    """The joint acceptance with the owner (联合验收并会签): signed by both sides, it accepts the repair
    for every linked case; refused, the order goes back to rework with the owner's reason."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    step = Step.ACCEPT if accepted else Step.REJECT_ACCEPTANCE
    domain.next_state(step, WorkOrderState(work_order.status))
    if accepted:
        for field, value in (("owner_signature_ref", owner_signature_ref), ("owner_signer_role", owner_signer_role),
                             ("contractor_signature_ref", contractor_signature_ref),
                             ("contractor_signer", contractor_signer)):
            if not value:
                raise StepInvalid(field, "a joint acceptance is signed by both sides (联合验收并会签)")
    elif not reason:
        raise StepInvalid("reason", "a rejected acceptance records the owner's reason for the rework")
    await _advance(
        uow, work_order, step, actor=actor, now=now, note=note or reason, photos=photos,
        client_step_id=client_step_id, emit=False,
        signatures={"owner_signature_ref": owner_signature_ref, "owner_signer_role": owner_signer_role,
                    "owner_signer_customer_id": str(owner_signer_customer_id) if owner_signer_customer_id else None,
                    "contractor_signature_ref": contractor_signature_ref, "contractor_signer": contractor_signer}
        if accepted else None,
        reason=reason,
    )
    case_ids = await case_ids_of(work_order.id, uow=uow)
    if not accepted:
        work_order.rework_count += 1
        work_order.last_rejection_reason = reason
        _emit(uow, RepairAcceptanceRejected, work_order, RepairAcceptanceRejectedData(
            work_order_id=work_order.id, project_id=work_order.project_id, case_ids=tuple(case_ids),
            reason=reason or "", actor=actor, at=now, rework_count=work_order.rework_count, photos=tuple(photos),
        ), now)
        return work_order
    work_order.accepted_at = now
    work_order.owner_signature_ref, work_order.owner_signer_role = owner_signature_ref, owner_signer_role
    work_order.owner_signer_customer_id = owner_signer_customer_id
    work_order.contractor_signature_ref, work_order.contractor_signer = contractor_signature_ref, contractor_signer
    _emit(uow, RepairAccepted, work_order, RepairAcceptedData(
        work_order_id=work_order.id, project_id=work_order.project_id, case_ids=tuple(case_ids),
        defect_kind=work_order.defect_kind, in_warranty=work_order.in_warranty, requested_at=work_order.requested_at,
        accepted_at=now, owner_signature_ref=owner_signature_ref or "",
        contractor_signature_ref=contractor_signature_ref or "", owner_signer_role=owner_signer_role,
        owner_signer_customer_id=owner_signer_customer_id, contractor_signer=contractor_signer,
        warranty_status=work_order.warranty_status,  # type: ignore[arg-type]
        chargeable=work_order.chargeable, quoted_fee=work_order.quoted_fee, rework_count=work_order.rework_count,
    ), now)
    await _move_cases_on(work_order, case_ids, uow=uow, deps=deps, now=now)
    return work_order


async def _move_cases_on(work_order: WorkOrder, case_ids: Sequence[uuid.UUID], *, uow: UnitOfWork,
                         deps: RepairCollaborators, now: datetime) -> None:
    """Each linked complaint that can be resolved is resolved by the system (its 48-hour result
    deadline starts), one still assigned acknowledged first; every other case keeps its state and
    gets a note in its history."""
    if not case_ids:
        return
    rows = (await uow.session.execute(
        sa.select(Case.id, Case.kind, Case.status).where(Case.id.in_(case_ids)).order_by(Case.id))).all()
    accepted = f"warranty repair {work_order.id} accepted jointly with the owner at {now.isoformat()}"
    for case_id, kind, status in rows:
        state = CaseState(status)
        if kind == FeedbackKind.COMPLAINT.value and state in ACKNOWLEDGED_BY_ACCEPTANCE:
            await case_service.act(case_id, Action.ACKNOWLEDGE, actor=SYSTEM, note=accepted, uow=uow, deps=deps.cases)
            state = CaseState.ACKNOWLEDGED
        if kind == FeedbackKind.COMPLAINT.value and state in RESOLVABLE:
            await case_service.act(case_id, Action.RESOLVE, actor=SYSTEM, note=accepted, uow=uow, deps=deps.cases)
        else:
            uow.session.add(CaseStepRecord(
                case_id=case_id, action="repair_accepted", previous_state=state.value, state=state.value,
                actor=SYSTEM, at=now, note=accepted + ("" if state in CASE_FINISHED else "; the case's handler "
                                                       "delivers the result to the customer"),
            ))


async def archive(work_order_id: uuid.UUID, *, actor: str, note: str | None = None, client_step_id: str | None = None,
                  uow: UnitOfWork, deps: RepairCollaborators) -> WorkOrder:
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    await _advance(uow, work_order, Step.ARCHIVE, actor=actor, now=now, note=note, client_step_id=client_step_id)
    work_order.archived_at = now
    return work_order


async def verify_quality(work_order_id: uuid.UUID, *, passed: bool, findings: str | None, actor: str,
                         department: Department = Department.ENGINEERING_QUALITY, note: str | None = None,
                         client_step_id: str | None = None, uow: UnitOfWork, deps: RepairCollaborators) -> WorkOrder:
    """The quality department's verification of an accepted repair (docs/domain.md §4)."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    await _advance(uow, work_order, Step.VERIFY_QUALITY, actor=actor, now=now, note=note,
                   client_step_id=client_step_id,
                   verification=QualityVerification(passed=passed, department=department, findings=findings))
    work_order.quality_verified_at, work_order.quality_verified_by = now, actor
    work_order.quality_verification_passed = passed
    return work_order


async def attach_photos(work_order_id: uuid.UUID, *, photos: Sequence[str], actor: str, note: str | None = None,
                        client_step_id: str | None = None, uow: UnitOfWork, deps: RepairCollaborators) -> WorkOrder:
    """Photo references outside a step; references already attached are not attached again."""
    now = deps.clock()
    work_order = await _load(uow, work_order_id)
    domain.next_state(Step.ATTACH_PHOTOS, WorkOrderState(work_order.status))
    known = set((await uow.session.execute(
        sa.select(WorkOrderPhoto.ref).where(WorkOrderPhoto.work_order_id == work_order.id))).scalars())
    new = [ref for ref in dict.fromkeys(photos) if ref not in known]
    if new:
        await _advance(uow, work_order, Step.ATTACH_PHOTOS, actor=actor, now=now, note=note, photos=new,
                       client_step_id=client_step_id)
    return work_order


# --- remediation of recurring defects ------------------------------------------------------------


def _remediation_step(uow: UnitOfWork, item: RemediationItem, step: str, previous: RemediationState, *, actor: str,
                      now: datetime, note: str | None = None, **details: Any) -> None:
    uow.session.add(RemediationStepRecord(
        remediation_id=item.id, step=step, previous_state=previous.value, state=item.status, actor=actor, at=now,
        note=note, details={k: str(v) if not isinstance(v, str | int | float | bool) else v
                            for k, v in details.items() if v is not None},
    ))
    _emit(uow, RemediationStepRecorded, item, RemediationStepRecordedData(
        remediation_id=item.id, project_id=item.project_id, defect_kind=item.defect_kind, step=step,
        previous_state=previous.value, state=item.status, actor=actor, at=now, note=note, **details,
    ), now)


async def _load_item(uow: UnitOfWork, remediation_id: uuid.UUID) -> RemediationItem:
    item = (await uow.session.execute(
        sa.select(RemediationItem).where(RemediationItem.id == remediation_id).with_for_update())).scalar_one_or_none()
    if item is None:
        raise RemediationNotFound(str(remediation_id))
    return item


async def plan_remediation(remediation_id: uuid.UUID, *, plan: str, responsible_department: Department,
                           due_at: datetime | None, actor: str, note: str | None = None, uow: UnitOfWork,
                           deps: RepairCollaborators) -> RemediationItem:
    """The company-level remediation plan for a recurring defect (or a revised one)."""
    now = deps.clock()
    item = await _load_item(uow, remediation_id)
    previous = RemediationState(item.status)
    item.status = domain.next_remediation_state(RemediationStep.PLAN, previous).value
    item.plan, item.responsible_department, item.due_at = plan, responsible_department.value, due_at
    _remediation_step(uow, item, RemediationStep.PLAN.value, previous, actor=actor, now=now, note=note, plan=plan,
                      responsible_department=responsible_department, due_at=due_at)
    return item


async def complete_remediation(remediation_id: uuid.UUID, *, actor: str, note: str | None = None, uow: UnitOfWork,
                               deps: RepairCollaborators) -> RemediationItem:
    now = deps.clock()
    item = await _load_item(uow, remediation_id)
    previous = RemediationState(item.status)
    item.status = domain.next_remediation_state(RemediationStep.COMPLETE, previous).value
    item.implemented_at = now
    _remediation_step(uow, item, RemediationStep.COMPLETE.value, previous, actor=actor, now=now, note=note)
    return item


async def accept_remediation(
    remediation_id: uuid.UUID, *, accepted: bool, actor: str, representative_role: str,
    representative_customer_id: uuid.UUID | None, signature_ref: str | None, evaluation: str, effective: bool,
    uow: UnitOfWork, deps: RepairCollaborators,
) -> RemediationItem:
    """Accepted and evaluated with the customer's representative; refused, it is planned again."""
    now = deps.clock()
    item = await _load_item(uow, remediation_id)
    previous = RemediationState(item.status)
    step = RemediationStep.ACCEPT if accepted else RemediationStep.REJECT
    item.status = domain.next_remediation_state(step, previous).value
    if not accepted:
        _remediation_step(uow, item, step.value, previous, actor=actor, now=now, note=evaluation)
        return item
    if not signature_ref:
        raise StepInvalid("signature_ref", "the representative's acceptance is signed")
    item.accepted_at, item.representative_role = now, representative_role
    item.representative_customer_id, item.signature_ref = representative_customer_id, signature_ref
    item.evaluation, item.effective = evaluation, effective
    uow.session.add(RemediationStepRecord(
        remediation_id=item.id, step=step.value, previous_state=previous.value, state=item.status, actor=actor,
        at=now, note=evaluation, details={"signature_ref": signature_ref, "representative_role": representative_role,
                                          "effective": effective},
    ))
    work_order_ids = (await uow.session.execute(
        sa.select(WorkOrder.id).where(WorkOrder.remediation_id == item.id).order_by(WorkOrder.requested_at))).scalars()
    _emit(uow, RemediationAccepted, item, RemediationAcceptedData(
        remediation_id=item.id, project_id=item.project_id, defect_kind=item.defect_kind,
        work_order_ids=tuple(work_order_ids), accepted_at=now, actor=actor,
        representative_role=representative_role,  # type: ignore[arg-type]
        representative_customer_id=representative_customer_id, signature_ref=signature_ref, evaluation=evaluation,
        effective=effective,
    ), now)
    return item


# --- idempotent posts ----------------------------------------------------------------------------


async def replay(scope: str, key: str, fingerprint: str, *, uow: UnitOfWork) -> tuple[int, Any] | None:
    """Claim an idempotency key in this transaction; a key claimed before gives its stored response.

    A concurrent duplicate waits on the key's row until the first request commits (then replays
    it) or rolls back (then runs itself).
    """
    claimed = await uow.session.execute(
        pg_insert(RepairRequest).values(scope=scope, key=key, fingerprint=fingerprint)
        .on_conflict_do_nothing().returning(RepairRequest.key))
    if claimed.first() is not None:
        return None
    stored = (await uow.session.execute(
        sa.select(RepairRequest).where(RepairRequest.scope == scope, RepairRequest.key == key))).scalar_one()
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    return stored.status_code or 200, stored.response


async def remember(scope: str, key: str, status_code: int, response: Any, *, uow: UnitOfWork) -> None:
    await uow.session.execute(
        sa.update(RepairRequest).where(RepairRequest.scope == scope, RepairRequest.key == key)
        .values(status_code=status_code, response=response))


# --- queries -------------------------------------------------------------------------------------


async def find_work_orders(
    *, uow: UnitOfWork, assignee: str | None = None, state: str | None = None, project_id: str | None = None,
    case_id: uuid.UUID | None = None, open_only: bool = False, overdue_at: datetime | None = None, limit: int = 200,
    visible: Any | None = None,
) -> list[WorkOrder]:
    query = sa.select(WorkOrder).order_by(WorkOrder.requested_at.desc()).limit(limit)
    if visible is not None:
        query = query.where(visible)
    if assignee:
        query = query.where(WorkOrder.assignee == assignee)
    if state:
        query = query.where(WorkOrder.status == state)
    if project_id:
        query = query.where(WorkOrder.project_id == project_id)
    if case_id:
        query = query.where(WorkOrder.id.in_(
            sa.select(WorkOrderCase.work_order_id).where(WorkOrderCase.case_id == case_id)))
    if open_only or overdue_at is not None:
        query = query.where(WorkOrder.status.not_in([s.value for s in domain.FINISHED_STATES]))
    if overdue_at is not None:
        query = query.where(sa.or_(
            sa.and_(WorkOrder.respond_by <= overdue_at, WorkOrder.responded_at.is_(None)),
            sa.and_(WorkOrder.due_at <= overdue_at, WorkOrder.work_done_at.is_(None)),
        ))
    return list((await uow.session.execute(query)).scalars())


async def get_work_order(work_order_id: uuid.UUID, *, uow: UnitOfWork) -> WorkOrder | None:
    return await uow.session.get(WorkOrder, work_order_id)


async def case_counts(work_order_ids: Sequence[uuid.UUID], *, uow: UnitOfWork) -> dict[uuid.UUID, int]:
    if not work_order_ids:
        return {}
    rows = await uow.session.execute(
        sa.select(WorkOrderCase.work_order_id, sa.func.count())
        .where(WorkOrderCase.work_order_id.in_(work_order_ids)).group_by(WorkOrderCase.work_order_id))
    return {work_order_id: count for work_order_id, count in rows}


async def linked_cases(work_order_id: uuid.UUID, *, uow: UnitOfWork) -> list[Any]:
    rows = await uow.session.execute(
        sa.select(WorkOrderCase.case_id, WorkOrderCase.link_reason, WorkOrderCase.linked_at, Case.kind, Case.status,
                  RepairReport.unit, RepairReport.defect_kind, WorkOrderCase.link_score,
                  WorkOrderCase.link_explanation, RepairReport.shared_part)
        .join(Case, Case.id == WorkOrderCase.case_id)
        .outerjoin(RepairReport, RepairReport.case_id == WorkOrderCase.case_id)
        .where(WorkOrderCase.work_order_id == work_order_id)
        .order_by(WorkOrderCase.linked_at, WorkOrderCase.case_id))
    return list(rows)


async def steps_of(work_order_id: uuid.UUID, *, uow: UnitOfWork) -> list[WorkOrderStep]:
    rows = await uow.session.execute(
        sa.select(WorkOrderStep).where(WorkOrderStep.work_order_id == work_order_id).order_by(WorkOrderStep.id))
    return list(rows.scalars())


async def photos_of(work_order_id: uuid.UUID, *, uow: UnitOfWork) -> list[WorkOrderPhoto]:
    rows = await uow.session.execute(
        sa.select(WorkOrderPhoto).where(WorkOrderPhoto.work_order_id == work_order_id).order_by(WorkOrderPhoto.id))
    return list(rows.scalars())


async def find_remediations(*, uow: UnitOfWork, project_id: str | None = None, state: str | None = None,
                            limit: int = 200, visible: Any | None = None) -> list[RemediationItem]:
    query = sa.select(RemediationItem).order_by(RemediationItem.detected_at.desc()).limit(limit)
    if visible is not None:
        query = query.where(visible)
    if project_id:
        query = query.where(RemediationItem.project_id == project_id)
    if state:
        query = query.where(RemediationItem.status == state)
    return list((await uow.session.execute(query)).scalars())


async def get_remediation(remediation_id: uuid.UUID, *, uow: UnitOfWork) -> RemediationItem | None:
    return await uow.session.get(RemediationItem, remediation_id)


async def remediation_details(remediation_id: uuid.UUID, *, uow: UnitOfWork
                              ) -> tuple[list[uuid.UUID], list[RemediationStepRecord]]:
    orders = await uow.session.execute(
        sa.select(WorkOrder.id).where(WorkOrder.remediation_id == remediation_id).order_by(WorkOrder.requested_at))
    steps = await uow.session.execute(
        sa.select(RemediationStepRecord).where(RemediationStepRecord.remediation_id == remediation_id)
        .order_by(RemediationStepRecord.id))
    return list(orders.scalars()), list(steps.scalars())


async def get_project(project_id: str, *, uow: UnitOfWork) -> RepairProject | None:
    return await uow.session.get(RepairProject, project_id)
