"""A scripted history for the dashboard and export tests, with every figure worked out by hand.

The clock stands at 2026-05-31 23:00 (Asia/Shanghai); the month under test is 2026-05, group hx.

| case | unit               | received   | category / class         | first response   | other deadlines | closed |
|------|--------------------|------------|--------------------------|------------------|-----------------|--------|
| A    | hx/east/lakeside   | 05-04      | product_quality / 2      | met on time      | result met      | yes    |
| B    | hx/east/lakeside   | 05-05      | product_quality / 2      | met late         |                 | no     |
| C    | hx/east/lakeside   | 05-07      | service_attitude / 1     | breached, unmet  |                 | no     |
| D    | hx/east/riverside  | 05-09      | price / 1                | met on time      |                 | yes    |
| E    | hx/south/hillview  | 05-10      | external_environment / 3 | met on time      |                 | no     |
| F    | hx/south/hillview  | 05-20      | product_quality / 2      | unmet, past due  | measures 06-02  | no     |
| Q    | hx/east/lakeside   | 05-12      | an inquiry               |                  |                 | no     |
| G    | hx/east/riverside  | 04-15      | price / 1                | unmet, past due  |                 | no     |
| H    | hx/east/lakeside   | 04-20      | product_quality / 2      | met on time      |                 | yes    |
| I    | hx/south/hillview  | 03-11      | service_attitude / 1     | met on time      |                 | yes    |
| J    | hx/east/lakeside   | 01-13      | product_quality / 2      | met on time      |                 | yes    |
| K    | hx/east/lakeside   | 2025-12-09 | external_environment / 3 | met on time      |                 | yes    |
| L    | hx/east/lakeside   | 2025-11-10 | price / 1                | met on time      |                 | yes    |

L falls outside the six months of the trend; "result met" is result delivery, met on time;
"measures 06-02" is a measures report due on June 2nd, so not yet due.

Surveys (scheme B) in May: lakeside r1 (q1 ✓, q2 ✓, q3 ✓), lakeside r2 (q1 ✓, q2 ✗, q3 unanswered),
hillview r3 (q1 ✓, q2 ✓, q3 ✓).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.events import ComplaintClassified, ComplaintClassifiedData, Event, OrgPath, SurveyReturned
from shared.events.catalog import ItemAnswer, SurveyReturnedData
from shared.events.cases import (
    CaseAssigned,
    CaseAssignedData,
    CaseOpened,
    CaseOpenedData,
    CaseTransitioned,
    CaseTransitionedData,
    Deadline,
    DeadlineBreached,
    DeadlineMet,
    DeadlineOutcomeData,
    DeadlinesScheduled,
    DeadlinesScheduledData,
)
from shared.settings import Settings
from shared.testing.services import publish_events

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 31, 23, 0, tzinfo=CN)
PERIOD = "2026-05"
LAKESIDE = OrgPath(group="hx", subsidiary="east", project="lakeside")
RIVERSIDE = OrgPath(group="hx", subsidiary="east", project="riverside")
HILLVIEW = OrgPath(group="hx", subsidiary="south", project="hillview")
STAFF = "cs-4711"  # a staff id in the events; it must never reach a view, an export or the page

# --- what the views must show, worked out from the table above -------------------------------

EXPECTED = {
    "complaints": 6, "by_class": {"1": 2, "2": 3, "3": 1}, "closed": 2, "open": 4,
    "overdue_now": 3,  # C, F and April's G
    # first response: on time A, D, E; late B; overdue C, F → 3 of 6; result delivery A on time;
    # measures report F not yet due. All deadlines: 4 on time of 7 that fell due.
    "on_time_rate": 57.14, "first_response_rate": 50.0,
    "trend": [("2025-12", 1), ("2026-01", 1), ("2026-02", 0), ("2026-03", 1), ("2026-04", 2), ("2026-05", 6)],
    # Q2: product_quality A B F H, price D G, external E, service attitude C
    "pareto": [("product_quality", 4, 50.0), ("price", 2, 75.0), ("external_environment", 1, 87.5),
               ("service_attitude", 1, 100.0)],
    # q1 3/3, q2 2/3, q3 2/2 → (100 + 66.67 + 100) / 3
    "satisfaction": 88.89, "responses": 3,
    "units": {"hx/east": (4, 2, 2, 83.33), "hx/south": (2, 2, 1, 100.0)},  # complaints, open, overdue, rate
    "east_units": {"hx/east/lakeside": (3, 2, 1, 83.33), "hx/east/riverside": (1, 0, 1, None)},
    "lakeside_open_cases": 3,  # B, C and the inquiry Q
}


@dataclass
class Case:
    org: OrgPath
    received: datetime
    kind: str = "complaint"
    category: str | None = None
    complaint_class: int | None = None
    department: str | None = None
    # (kind, due after receipt, met after receipt or None, breached)
    deadlines: list[tuple[str, timedelta, timedelta | None, bool]] = field(default_factory=list)
    closed: bool = False
    case_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def events(self) -> list[Event]:
        case, at, org = self.case_id, self.received, self.org

        def make(cls: type[Event], data: object, when: datetime) -> Event:
            return cls.create(data=data, org=org, aggregate_id=case, occurred_at=when, producer="routing",
                              correlation_id=case)

        feedback = uuid.uuid4()
        events = [make(CaseOpened, CaseOpenedData(case_id=case, feedback_id=feedback, kind=self.kind,
                                                  received_at=at, first_contact_owner=STAFF), at)]
        if self.kind == "complaint":
            events += [
                make(ComplaintClassified, ComplaintClassifiedData(
                    case_id=case, feedback_id=feedback, category=self.category,
                    complaint_class=self.complaint_class, valid=self.complaint_class == 1, important=False,
                    confidence=0.9, rules_version="t", lead_department=self.department, received_at=at), at),
                make(CaseAssigned, CaseAssignedData(case_id=case, previous_state="classified", state="assigned",
                                                    actor=STAFF, at=at, lead_department=self.department), at),
            ]
        if self.deadlines:
            deadlines = tuple(Deadline(kind=kind, due_at=at + due, explanation="t")
                              for kind, due, _, _ in self.deadlines)
            events.append(make(DeadlinesScheduled,
                               DeadlinesScheduledData(case_id=case, calendar_version="t", deadlines=deadlines), at))
        for kind, due, met, breached in self.deadlines:
            if met is not None:
                events.append(make(DeadlineMet, DeadlineOutcomeData(case_id=case, kind=kind, due_at=at + due,
                                                                    met_at=at + met), at + met))
            if breached:
                events.append(make(DeadlineBreached, DeadlineOutcomeData(
                    case_id=case, kind=kind, due_at=at + due, breached_at=at + due, escalated_to="supervisor"),
                    at + due))
        if self.closed:
            done = at + timedelta(days=2)
            events.append(make(CaseTransitioned, CaseTransitionedData(
                case_id=case, previous_state="accepted", state="closed", actor=STAFF, at=done, action="close"), done))
        return events


def day(month: int, dom: int, year: int = 2026) -> datetime:
    return datetime(year, month, dom, 9, 0, tzinfo=CN)


H8 = timedelta(hours=8)


def on_time(kind: str = "first_response") -> tuple[str, timedelta, timedelta | None, bool]:
    return (kind, H8, timedelta(hours=2), False)


CASES = {
    "A": Case(LAKESIDE, day(5, 4), category="product_quality", complaint_class=2, department="engineering_quality",
              deadlines=[on_time(), ("result_delivery", timedelta(days=3), timedelta(days=1), False)], closed=True),
    "B": Case(LAKESIDE, day(5, 5), category="product_quality", complaint_class=2, department="engineering_quality",
              deadlines=[("first_response", H8, timedelta(hours=9), False)]),
    "C": Case(LAKESIDE, day(5, 7), category="service_attitude", complaint_class=1, department="customer_service",
              deadlines=[("first_response", H8, None, True)]),
    "D": Case(RIVERSIDE, day(5, 9), category="price", complaint_class=1, department="business",
              deadlines=[on_time()], closed=True),
    "E": Case(HILLVIEW, day(5, 10), category="external_environment", complaint_class=3, department="customer_service",
              deadlines=[on_time()]),
    "F": Case(HILLVIEW, day(5, 20), category="product_quality", complaint_class=2, department="engineering_quality",
              deadlines=[("first_response", H8, None, False), ("measures_report", timedelta(days=13), None, False)]),
    "Q": Case(LAKESIDE, day(5, 12), kind="inquiry"),
    "G": Case(RIVERSIDE, day(4, 15), category="price", complaint_class=1, department="business",
              deadlines=[("first_response", H8, None, False)]),
    "H": Case(LAKESIDE, day(4, 20), category="product_quality", complaint_class=2, department="engineering_quality",
              deadlines=[on_time()], closed=True),
    "I": Case(HILLVIEW, day(3, 11), category="service_attitude", complaint_class=1, department="customer_service",
              deadlines=[on_time()], closed=True),
    "J": Case(LAKESIDE, day(1, 13), category="product_quality", complaint_class=2, department="engineering_quality",
              deadlines=[on_time()], closed=True),
    "K": Case(LAKESIDE, day(12, 9, 2025), category="external_environment", complaint_class=3,
              department="customer_service", deadlines=[on_time()], closed=True),
    "L": Case(LAKESIDE, day(11, 10, 2025), category="price", complaint_class=1, department="business",
              deadlines=[on_time()], closed=True),
}


def survey(org: OrgPath, answers: tuple[bool | None, ...]) -> Event:
    response = uuid.uuid4()
    at = day(5, 25)
    return SurveyReturned.create(
        data=SurveyReturnedData(
            response_id=response, template_id="household", template_version=1, scheme="B", returned_at=at,
            answers=tuple(ItemAnswer(item_id=f"q{i + 1}", satisfied=s,
                                     level=None if s is None else ("satisfied" if s else "dissatisfied"))
                          for i, s in enumerate(answers))),
        org=org, aggregate_id=response, occurred_at=at, producer="survey")


def history() -> list[Event]:
    events = [event for case in CASES.values() for event in case.events()]
    events += [survey(LAKESIDE, (True, True, True)), survey(LAKESIDE, (True, False, None)),
               survey(HILLVIEW, (True, True, True))]
    return events


async def publish(settings: Settings, events: list[Event]) -> None:
    await publish_events(settings, events)


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settled(summary: dict, satisfaction: dict, units: dict) -> bool:
    """Every event of history() has been projected (the views reach their final figures)."""
    return (summary["complaints"] == EXPECTED["complaints"] and summary["closed"] == EXPECTED["closed"]
            and sum(k["met_on_time"] + k["met_late"] + k["overdue_open"] + k["pending"]
                    for k in summary["deadlines"].values()) == 8
            and satisfaction["responses"] == EXPECTED["responses"]
            and units["totals"]["overdue"] == EXPECTED["overdue_now"])
