from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.routing.deadlines import DeadlinePolicy
from services.routing.repairs.domain import RepairPolicy
from shared.settings import Settings

SERVICE = "routing"


class RoutingSettings(Settings):
    """Routing's settings on top of the shared ones (env prefix CARELOOP_). Every deadline of
    docs/domain.md §3 is a setting; the defaults are the procedures' stricter values."""

    rules_file: str | None = Field(default=None, description="classification rules; the shipped file if unset")
    first_response_working_hours: float = Field(default=8, gt=0)
    first_response_outside_hours: float = Field(default=24, gt=0)
    first_response_cap_hours: float | None = Field(
        default=None, gt=0, description="optional calendar-time cap on every first response (seed 004: 24)"
    )
    difficult_escalation_working_days: float = Field(default=0.5, gt=0)
    measures_report_working_days: float = Field(default=1.0, gt=0)
    result_delivery_hours: float = Field(default=48, gt=0)
    deadline_scan_interval_s: float = Field(default=5.0, gt=0)
    # Warranty repairs (docs/domain.md §4; services.routing.repairs).
    repair_defects_file: str | None = Field(default=None, description="defect vocabulary; the shipped file if unset")
    repair_response_hours: float = Field(default=24, gt=0, description="in warranty: site response, calendar hours")
    repair_recurrence_threshold: int = Field(
        default=3, ge=2, description="repairs of one defect kind in one project that make it a recurring defect")
    repair_recurrence_window_days: int = Field(default=90, ge=1)
    repair_link_floor_span: int = Field(
        default=2, ge=0, description="floors apart that reports of one defect kind in one building still share an order")

    def deadline_policy(self) -> DeadlinePolicy:
        return DeadlinePolicy(
            first_response_in_working_time=timedelta(hours=self.first_response_working_hours),
            first_response_outside_working_time=timedelta(hours=self.first_response_outside_hours),
            first_response_calendar_cap=(
                timedelta(hours=self.first_response_cap_hours) if self.first_response_cap_hours else None
            ),
            difficult_escalation_working_days=self.difficult_escalation_working_days,
            measures_report_working_days=self.measures_report_working_days,
            result_delivery=timedelta(hours=self.result_delivery_hours),
        )

    def repair_policy(self) -> RepairPolicy:
        return RepairPolicy(
            response_hours=self.repair_response_hours,
            recurrence_threshold=self.repair_recurrence_threshold,
            recurrence_window_days=self.repair_recurrence_window_days,
            link_floor_span=self.repair_link_floor_span,
        )
