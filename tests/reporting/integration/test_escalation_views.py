"""Reporting counts the quality department's deadline with the others, and the complaints that
also reached the group company, a government office or the media apart (the monthly summary).
Expected values worked out by hand from the scripted events below, delivered twice and shuffled."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.reporting.app import create_app
from shared.events import ComplaintClassified, ComplaintClassifiedData, Event, OrgPath
from shared.events.cases import (
    CaseEscalated,
    CaseEscalatedData,
    CaseOpened,
    CaseOpenedData,
    Deadline,
    DeadlineBreached,
    DeadlineMet,
    DeadlineOutcomeData,
    DeadlinesScheduled,
    DeadlinesScheduledData,
)
from shared.settings import Settings
from shared.testing.services import eventually, publish_events, running_service

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
EAST = OrgPath(group="hx", subsidiary="east", project="lakeside")
SOUTH = OrgPath(group="hx", subsidiary="south", project="hillview")


def make(cls: type[Event], data: object, org: OrgPath, key: uuid.UUID, at: datetime) -> Event:
    return cls.create(data=data, org=org, aggregate_id=key, occurred_at=at, producer="routing", correlation_id=key)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 5, day, hour, 0, tzinfo=CN)


def complaint(org: OrgPath, day: int, *, body: str | None = None, plain_escalation: bool = False,
              quality_due: datetime | None = None, quality_met: datetime | None = None) -> list[Event]:
    case, feedback, received = uuid.uuid4(), uuid.uuid4(), at(day, 9)
    events: list[Event] = [
        make(CaseOpened, CaseOpenedData(case_id=case, feedback_id=feedback, kind="complaint", received_at=received,
                                        first_contact_owner="cs-1"), org, case, received),
        make(ComplaintClassified, ComplaintClassifiedData(
            case_id=case, feedback_id=feedback, category="service_attitude", complaint_class=1, valid=True,
            important=False, confidence=0.9, rules_version="t", lead_department="customer_service",
            received_at=received), org, case, received),
    ]
    if body:
        events.append(make(CaseEscalated, CaseEscalatedData(
            case_id=case, previous_state="assigned", state="assigned", actor="cs-2", at=at(day, 10),
            to="quality_department", reason=f"complaint reached {body}", external_body=body), org, case, at(day, 10)))
    if plain_escalation:  # an escalation inside the company: not a complaint to an outside body
        events.append(make(CaseEscalated, CaseEscalatedData(
            case_id=case, previous_state="assigned", state="assigned", actor="h-1", at=at(day, 11),
            to="executive", reason="疑难投诉上报"), org, case, at(day, 11)))
    if quality_due:
        events.append(make(DeadlinesScheduled, DeadlinesScheduledData(
            case_id=case, calendar_version="t", case_received_at=received,
            deadlines=(Deadline(kind="quality_department", due_at=quality_due, explanation="质量部跟踪期限"),)),
            org, case, at(day, 12)))
        if quality_met:
            events.append(make(DeadlineMet, DeadlineOutcomeData(
                case_id=case, kind="quality_department", due_at=quality_due, met_at=quality_met), org, case, quality_met))
        else:
            events.append(make(DeadlineBreached, DeadlineOutcomeData(
                case_id=case, kind="quality_department", due_at=quality_due, breached_at=quality_due,
                escalated_to="executive"), org, case, quality_due))
    return events


async def publish(settings: Settings, events: list[Event]) -> None:
    await publish_events(settings, events)


class Clock:
    def __call__(self) -> datetime:
        return datetime(2026, 5, 31, 23, 0, tzinfo=CN)


async def test_the_monthly_summary_counts_complaints_to_outside_bodies_and_the_quality_deadline(
        migrated: Settings) -> None:
    events = [
        # lakeside: reached the group; its quality deadline (due 05-06 16:00) met at 15:00 → on time
        *complaint(EAST, 4, body="group", quality_due=at(6, 16), quality_met=at(6, 15)),
        # lakeside: reached a government office; its quality deadline (due 05-07 12:00) breached, still open
        *complaint(EAST, 5, body="government", quality_due=at(7, 12)),
        # hillview: reached the media, and was escalated inside the company too
        *complaint(SOUTH, 6, body="media", plain_escalation=True),
        # hillview: escalated inside the company only: not counted as reaching an outside body
        *complaint(SOUTH, 7, plain_escalation=True),
    ]
    delivery = events + random.Random(3).sample(events, 6)
    random.Random(5).shuffle(delivery)
    async with running_service(create_app(migrated, clock=Clock())) as reporting:
        await publish(migrated, delivery)

        async def summary(org: str = "hx") -> dict:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": org})
            assert r.status_code == 200, r.text
            return r.json()

        group = await eventually(summary, until=lambda s: s["complaints"] == 4
                                 and sum(s["reached_external_body"].values()) == 3
                                 and s["deadlines"]["quality_department"]["total"] == 2, timeout=40)
        assert group["reached_external_body"] == {"group": 1, "government": 1, "media": 1}
        quality = group["deadlines"]["quality_department"]
        # one met on time, one breached and still open: 1 of 2 on time
        assert (quality["met_on_time"], quality["met_late"], quality["overdue_open"]) == (1, 0, 1)
        assert quality["on_time_rate"] == 50.0
        east = await summary("hx/east")
        assert east["reached_external_body"] == {"group": 1, "government": 1, "media": 0}
        south = await summary("hx/south")
        assert south["reached_external_body"] == {"group": 0, "government": 0, "media": 1}
        compliance = (await reporting.get("/api/v1/reports/deadline-compliance",
                                          params={"period": "2026-05", "org": "hx"})).json()
        assert compliance["deadlines"]["quality_department"] == quality
        # the export says it in Chinese
        csv = (await reporting.get("/api/v1/reports/monthly-summary",
                                   params={"period": "2026-05", "org": "hx", "format": "csv"})).content.decode("utf-8-sig")
        assert "reached_government,投诉至政府部门,1" in csv
        assert "quality_department,质量部跟踪期限,2,1,0,1,0,50" in csv
