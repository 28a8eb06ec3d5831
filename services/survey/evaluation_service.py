"""Project service evaluations (scheme C): the schedule (due and overdue events), recording a
sheet, the weighted project score, and the flags on the project and its manager."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.survey import builtin, domain, evaluations, scoring
from services.survey.campaign_service import flag_project
from services.survey.models import Evaluation, ProjectCopy, SurveyResponse
from services.survey.service import PRODUCER, Deps, RecordResponse, Recorded, load_template, record_response
from shared.clock import CHINA
from shared.db import UnitOfWork
from shared.events.envelope import OrgPath
from shared.events.surveys import (
    ProjectEvaluationDue,
    ProjectEvaluationOverdue,
    ProjectEvaluationRecorded,
    ProjectEvaluationRecordedData,
    ProjectEvaluationScheduleData,
    StageScore,
)
from shared.events.vocabulary import ProjectStage
from shared.i18n import pick


class EvaluationRefused(ValueError):
    """``reason`` in Chinese (what people read by default), ``reason_en`` in English (``?lang=en``)."""

    def __init__(self, error: str, field: str, reason: str, reason_en: str | None = None) -> None:
        super().__init__(f"{field}: {reason_en or reason}")
        self.error, self.field, self.reason, self.reason_en = error, field, reason, reason_en

    def for_people(self) -> str:
        return pick(self.reason, self.reason_en)


def _org(project: ProjectCopy) -> OrgPath:
    return OrgPath(group=project.org_group, subsidiary=project.org_subsidiary, project=project.org_project)


def timeline(project: ProjectCopy) -> evaluations.ProjectTimeline:
    return evaluations.ProjectTimeline(
        stage=ProjectStage(project.stage), stage_since=project.stage_since, signed_on=project.signed_on,
        completion_date=project.completion_date, warranty_end=project.warranty_end, first_seen=project.first_seen,
    )


# --- the schedule -----------------------------------------------------------------------------


async def plan_evaluations(*, uow: UnitOfWork, deps: Deps) -> int:
    """Write the evaluations every project should have by today (idempotent, SKIP LOCKED per project)."""
    today = deps.clock().astimezone(CHINA).date()
    projects = (await uow.session.execute(
        sa.select(ProjectCopy).order_by(ProjectCopy.project_id).with_for_update(skip_locked=True)
    )).scalars().all()
    rows = []
    for project in projects:
        for planned in evaluations.planned_evaluations(
            timeline(project), today=today, pre_construction_days=deps.pre_construction_days,
            report_day=deps.process_report_day,
        ):
            rows.append({"id": uuid.uuid4(), "project_id": project.project_id, "stage": planned.stage.value,
                         "period": planned.period, "opens_on": planned.opens_on, "due_on": planned.due_on,
                         "template_id": builtin.SHEET_TEMPLATES[planned.stage]})
    if not rows:
        return 0
    result = await uow.session.execute(
        pg_insert(Evaluation).values(rows).on_conflict_do_nothing(
            index_elements=["project_id", "stage", "period"]).returning(Evaluation.id))
    return len(result.all())


def _schedule_data(e: Evaluation) -> ProjectEvaluationScheduleData:
    return ProjectEvaluationScheduleData(
        evaluation_id=e.id, project_id=e.project_id, stage=ProjectStage(e.stage), period=e.period,
        opens_on=e.opens_on, due_on=e.due_on, template_id=e.template_id)


async def announce_evaluations(*, uow: UnitOfWork, deps: Deps, limit: int = 200) -> int:
    """ProjectEvaluationDue when a window opens, ProjectEvaluationOverdue the day after it closes
    unrecorded; each once, whatever the number of replicas (SKIP LOCKED)."""
    now = deps.clock()
    today = now.astimezone(CHINA).date()
    e = Evaluation
    sent = 0
    for kind, condition in (
        (ProjectEvaluationDue, sa.and_(e.due_notified_at.is_(None), e.opens_on <= today)),
        (ProjectEvaluationOverdue, sa.and_(e.overdue_notified_at.is_(None), e.due_on < today)),
    ):
        rows = (await uow.session.execute(
            sa.select(e, ProjectCopy).join(ProjectCopy, ProjectCopy.project_id == e.project_id)
            .where(e.recorded_at.is_(None), condition).order_by(e.due_on).limit(limit)
            .with_for_update(of=e, skip_locked=True)
        )).all()
        for evaluation, project in rows:
            if kind is ProjectEvaluationDue:
                evaluation.due_notified_at = now
            else:
                evaluation.overdue_notified_at = now
            uow.publish(kind.create(data=_schedule_data(evaluation), org=_org(project), aggregate_id=evaluation.id,
                                    occurred_at=now, producer=PRODUCER,
                                    correlation_id=uuid.uuid5(evaluation.id, "evaluation")))
            sent += 1
    return sent


# --- recording a sheet ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordSheet:
    evaluation_id: uuid.UUID
    answers: list[domain.Answer]
    correlation_id: uuid.UUID
    hazard_deduction: Decimal | None = None
    evaluated_on: date | None = None
    entered_by: str | None = None
    meets_basic_conditions: bool = False
    template_version: int | None = None


@dataclass(frozen=True)
class SheetRecorded:
    recorded: Recorded
    data: ProjectEvaluationRecordedData


async def record_sheet(cmd: RecordSheet, *, uow: UnitOfWork, deps: Deps) -> SheetRecorded:
    """Score one evaluation's sheet, then the project (once all three stages have a sheet) and
    its manager's record. Raises EvaluationRefused or domain.AnswersRefused."""
    evaluation = (await uow.session.execute(
        sa.select(Evaluation).where(Evaluation.id == cmd.evaluation_id).with_for_update())).scalar_one_or_none()
    if evaluation is None:
        raise EvaluationRefused("unknown_evaluation", "evaluation_id", "没有这次评价", "no such evaluation")
    if evaluation.recorded_at is not None:
        raise EvaluationRefused("already_recorded", "evaluation_id", "这次评价的评分表已录入",
                                "this evaluation's sheet is recorded already")
    project = await uow.session.get(ProjectCopy, evaluation.project_id)
    assert project is not None
    now = deps.clock()
    evaluated_on = cmd.evaluated_on or now.astimezone(CHINA).date()
    org = _org(project)
    recorded = await record_response(RecordResponse(
        template_id=evaluation.template_id, template_version=cmd.template_version, org=org, answers=cmd.answers,
        channel="paper", correlation_id=cmd.correlation_id, project_id=project.project_id,
        evaluation_id=evaluation.id, hazard_deduction=cmd.hazard_deduction, entered_by=cmd.entered_by,
        returned_at=datetime.combine(evaluated_on, datetime.min.time(), CHINA),
    ), uow=uow, deps=deps)
    assert recorded.scored is not None and recorded.scored.score is not None
    sheet_score = recorded.scored.score
    sheet_grade = scoring.project_grade(sheet_score)
    evaluation.recorded_at, evaluation.evaluated_on = now, evaluated_on
    evaluation.response_id, evaluation.sheet_score, evaluation.grade = recorded.response_id, sheet_score, sheet_grade.value
    await uow.session.flush()

    sheets = await latest_sheets(uow, project.project_id)
    total = None
    if set(sheets) == set(scoring.SHEET_WEIGHTS):
        total = scoring.project_score(sheets.values(), meets_basic_conditions=cmd.meets_basic_conditions)
    data = ProjectEvaluationRecordedData(
        evaluation_id=evaluation.id, project_id=project.project_id, stage=ProjectStage(evaluation.stage),
        period=evaluation.period, response_id=recorded.response_id, evaluated_on=evaluated_on,
        sheet_score=float(sheet_score), sheet_grade=sheet_grade.value,
        sheet_scores=tuple(StageScore(stage=s, score=float(sheet.score)) for s, sheet in sheets.items()),
        project_score=float(total.score) if total else None, project_grade=total.grade.value if total else None,
        satisfaction_project=total.satisfaction_project if total else None,
    )
    uow.publish(ProjectEvaluationRecorded.create(data=data, org=org, aggregate_id=evaluation.id, occurred_at=now,
                                                 producer=PRODUCER, correlation_id=cmd.correlation_id))
    failed = []
    if sheet_grade is scoring.ProjectGrade.FAIL:
        failed.append(("sheet_below_70", sheet_score))
    if total is not None and total.grade is scoring.ProjectGrade.FAIL:
        failed.append(("project_score_below_70", total.score))
    if failed:
        await flag_project(uow, deps, project_id=project.project_id, org=org, flag="unsatisfactory_score",
                           reasons=tuple(r for r, _ in failed), source="evaluation", evaluation_id=evaluation.id,
                           score=failed[-1][1], threshold=scoring.FAIL_BELOW, correlation_id=cmd.correlation_id)
    flags = scoring.project_manager_flags(await grade_history(uow, project.project_id))
    newest = flags[-1] if flags else None
    if newest is not None and newest.evaluated_on == evaluated_on and sheet_grade is scoring.ProjectGrade.FAIL:
        await flag_project(uow, deps, project_id=project.project_id, org=org,
                           flag="manager_strong" if newest.level is scoring.FlagLevel.STRONG else "manager",
                           reasons=tuple(r.value for r in newest.reasons), source="evaluation",
                           evaluation_id=evaluation.id, score=sheet_score, threshold=scoring.FAIL_BELOW,
                           correlation_id=cmd.correlation_id)
    return SheetRecorded(recorded, data)


async def latest_sheets(uow: UnitOfWork, project_id: str) -> dict[ProjectStage, scoring.Sheet]:
    """The latest recorded sheet of each stage, rebuilt from its answers and template version."""
    e = Evaluation
    rows = (await uow.session.execute(
        sa.select(e, SurveyResponse).join(SurveyResponse, SurveyResponse.id == e.response_id)
        .where(e.project_id == project_id, e.recorded_at.is_not(None))
        .order_by(e.stage, e.evaluated_on.desc(), e.recorded_at.desc())
    )).all()
    sheets: dict[ProjectStage, scoring.Sheet] = {}
    for evaluation, response in rows:
        stage = ProjectStage(evaluation.stage)
        if stage in sheets:
            continue
        template = await load_template(uow, response.template_id, response.template_version)
        answers = [domain.Answer(a["item_id"], a["level"],
                                 Decimal(str(a["deduction"])) if a.get("deduction") is not None else None)
                   for a in response.answers]
        sheets[stage] = domain.sheet_of(template, answers, response.hazard_deduction)
    return sheets


async def grade_history(uow: UnitOfWork, project_id: str) -> list[tuple[date, scoring.ProjectGrade]]:
    """The project's evaluations, oldest first, one per day (a day with any fail counts as failed:
    the flag rules need one evaluation per date)."""
    rows = (await uow.session.execute(
        sa.select(Evaluation.evaluated_on, Evaluation.grade)
        .where(Evaluation.project_id == project_id, Evaluation.recorded_at.is_not(None))
        .order_by(Evaluation.evaluated_on)
    )).all()
    by_day: dict[date, scoring.ProjectGrade] = {}
    for day, grade in rows:
        if day not in by_day or grade == scoring.ProjectGrade.FAIL:
            by_day[day] = scoring.ProjectGrade(grade)
    return sorted(by_day.items())


async def project_evaluations(project_id: str, *, uow: UnitOfWork) -> list[Evaluation]:
    return list((await uow.session.execute(
        sa.select(Evaluation).where(Evaluation.project_id == project_id)
        .order_by(Evaluation.opens_on, Evaluation.stage))).scalars())
