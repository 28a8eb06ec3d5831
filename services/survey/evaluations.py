"""When a project's service is evaluated (scheme C, seed 003 5.4). Pure: no I/O, no clock.

- Pre-construction (前期): in the first week after signing the construction contract. The registry
  has no signing date: a project that survey first hears of in stage ``pre_construction`` is taken
  as signed on that day (the ProjectRegistered event's date, China time). A project first heard of
  in a later stage was signed before anyone could evaluate it, so it gets no pre-construction check.
- Process (过程): a self-check every month the project is in construction, reported by the 5th of
  the next month; the window opens on the 1st of that month.
- Post-completion (后期): every calendar quarter of the warranty, from the completion date to the
  end of the warranty (open-ended while the warranty end is unknown), due on the quarter's last day.
  Quarters that ended before survey first heard of the project are not asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.events.vocabulary import ProjectStage


@dataclass(frozen=True)
class PlannedEvaluation:
    stage: ProjectStage
    period: str
    opens_on: date
    due_on: date


@dataclass(frozen=True)
class ProjectTimeline:
    stage: ProjectStage
    stage_since: date  # when survey learned the current stage
    signed_on: date | None
    completion_date: date | None
    warranty_end: date | None
    first_seen: date


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _quarter_end(d: date) -> date:
    start = _quarter_start(d)
    return _next_month(_next_month(_next_month(start))) - timedelta(days=1)


def planned_evaluations(
    project: ProjectTimeline, *, today: date, pre_construction_days: int = 7, report_day: int = 5
) -> list[PlannedEvaluation]:
    """Every evaluation the project should have had up to ``today`` (idempotent: same input, same list)."""
    out: list[PlannedEvaluation] = []
    if project.signed_on is not None:
        out.append(PlannedEvaluation(ProjectStage.PRE_CONSTRUCTION, "signing", project.signed_on,
                                     project.signed_on + timedelta(days=pre_construction_days)))
    if project.stage is ProjectStage.CONSTRUCTION:
        month = date(project.stage_since.year, project.stage_since.month, 1)
        while month <= today:
            report_month = _next_month(month)
            out.append(PlannedEvaluation(ProjectStage.CONSTRUCTION, month.strftime("%Y-%m"), report_month,
                                         report_month.replace(day=report_day)))
            month = report_month
    if project.stage in (ProjectStage.POST_COMPLETION, ProjectStage.PROPERTY_MANAGEMENT) and project.completion_date:
        quarter = _quarter_start(project.completion_date)
        last = min(today, project.warranty_end) if project.warranty_end else today
        while quarter <= last:
            end = _quarter_end(quarter)
            if end >= project.first_seen:
                out.append(PlannedEvaluation(
                    ProjectStage.POST_COMPLETION, f"{quarter.year}Q{(quarter.month - 1) // 3 + 1}",
                    max(quarter, project.completion_date), end))
            quarter = end + timedelta(days=1)
    return out
