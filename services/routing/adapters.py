"""Adapters from routing's ports to the rule-based classifier and the business calendar."""

from __future__ import annotations

from datetime import datetime

from services.routing import deadlines
from services.routing.classification.classifier import Classification, Rules, classify
from services.routing.classification.model import ComplaintModel
from shared.calendar import BusinessCalendar
from shared.calendar_store import LiveCalendar
from shared.events.vocabulary import ComplaintCategory, Department


class RuleClassifier:
    """The versioned rule file (services/routing/classification/rules.toml) and, when given, the
    complaint model trained beside it (model.json) behind routing's port."""

    def __init__(self, rules: Rules, model: ComplaintModel | None = None) -> None:
        self.rules = rules
        self.model = model

    def classify(
        self, text: str, *, kind: str, channel: str, project_stage: str | None, org_path: str
    ) -> Classification:
        return classify(text, kind=kind, channel=channel, project_stage=project_stage, org_path=org_path,
                        rules=self.rules, model=self.model)

    def route(self, category: ComplaintCategory, org_path: str) -> tuple[Department, tuple[Department, ...]]:
        route, _source = self.rules.route(category, org_path)
        return route.lead, route.assisting


class CalendarPlanner:
    """Deadlines of docs/domain.md §3 on the business calendar of each org unit."""

    _RULES = {
        "first_response": deadlines.first_response_deadline,
        "difficult_escalation": deadlines.difficult_escalation_deadline,
        "measures_report": deadlines.measures_report_deadline,
        "result_delivery": deadlines.result_delivery_deadline,
    }

    def __init__(self, calendar: BusinessCalendar | LiveCalendar, policy: deadlines.DeadlinePolicy) -> None:
        #: A LiveCalendar in a running service (swapped when a holiday schedule is loaded).
        self.calendar = calendar
        self.policy = policy

    @property
    def kinds(self) -> tuple[str, ...]:
        """The deadline kinds counted on the calendar (and so counted again when it changes)."""
        return tuple(self._RULES)

    @property
    def calendar_version(self) -> str:
        return self.calendar.calendar_version

    def in_working_time(self, moment: datetime, org_path: str) -> bool:
        return self.calendar.is_working_time(moment, org_path)

    def plan(self, kind: str, start: datetime, org_path: str) -> deadlines.Deadline:
        return self.plan_on(self.calendar, kind, start, org_path)

    def plan_on(self, calendar: BusinessCalendar | LiveCalendar, kind: str, start: datetime,
                org_path: str) -> deadlines.Deadline:
        """The same deadline on another calendar (a schedule being loaded, before it is in use)."""
        return self._RULES[kind](start, calendar.for_unit(org_path), self.policy)
