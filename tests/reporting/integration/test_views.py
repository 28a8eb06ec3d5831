"""Reporting on the real broker and PostgreSQL: views worked out by hand from a scripted set of
events delivered twice and out of order, and a rebuild from the topics that reproduces them."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.reporting.app import create_app
from services.reporting.rebuild import RebuildRefused, rebuild
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
from shared.testing.services import eventually, publish_events, running_service

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=CN)
EAST = OrgPath(group="hx", subsidiary="east", project="lakeside")
RIVER = OrgPath(group="hx", subsidiary="east", project="riverside")
SOUTH = OrgPath(group="hx", subsidiary="south", project="hillview")


def make(cls: type[Event], data: object, org: OrgPath, key: uuid.UUID, at: datetime) -> Event:
    return cls.create(data=data, org=org, aggregate_id=key, occurred_at=at, producer="routing",
                      correlation_id=key)


def complaint(org: OrgPath, *, category: str, cls: int, dept: str, received: datetime, closed: bool,
              first_response_met: datetime | None, due: datetime, breached: bool = False,
              dated: bool = True) -> list[Event]:
    """``dated``: the schedule says when the case was received (a producer older than that field
    does not: the views must count its deadlines in the case's month all the same)."""
    case, feedback = uuid.uuid4(), uuid.uuid4()
    events: list[Event] = [
        make(CaseOpened, CaseOpenedData(case_id=case, feedback_id=feedback, kind="complaint", received_at=received,
                                        first_contact_owner="cs-1"), org, case, received),
        make(ComplaintClassified, ComplaintClassifiedData(
            case_id=case, feedback_id=feedback, category=category, complaint_class=cls, valid=cls == 1,
            important=False, confidence=0.9, rules_version="t", lead_department=dept, received_at=received),
            org, case, received),
        make(CaseAssigned, CaseAssignedData(case_id=case, previous_state="classified", state="assigned", actor="system",
                                            at=received, lead_department=dept), org, case, received),
        make(DeadlinesScheduled, DeadlinesScheduledData(
            case_id=case, calendar_version="t", case_received_at=received if dated else None,
            deadlines=(Deadline(kind="first_response", due_at=due, explanation="t"),)), org, case, received),
    ]
    if first_response_met:
        events.append(make(DeadlineMet, DeadlineOutcomeData(case_id=case, kind="first_response", due_at=due,
                                                            met_at=first_response_met), org, case, first_response_met))
    if breached:
        events.append(make(DeadlineBreached, DeadlineOutcomeData(case_id=case, kind="first_response", due_at=due,
                                                                 breached_at=due, escalated_to="supervisor"),
                           org, case, due))
    if closed:
        at = received + timedelta(days=2)
        events.append(make(CaseTransitioned, CaseTransitionedData(case_id=case, previous_state="accepted",
                                                                  state="closed", actor="h", at=at, action="close"),
                           org, case, at))
    return events


def scripted_month() -> list[Event]:
    d = T0
    events: list[Event] = []
    # lakeside: two leaks (class 2, engineering quality), one closed, responses 1 on time 1 late
    events += complaint(EAST, category="product_quality", cls=2, dept="engineering_quality", received=d, closed=True,
                        first_response_met=d + timedelta(hours=2), due=d + timedelta(hours=8))
    events += complaint(EAST, category="product_quality", cls=2, dept="engineering_quality", received=d + timedelta(days=1),
                        closed=False, first_response_met=d + timedelta(days=1, hours=9), due=d + timedelta(days=1, hours=8))
    # lakeside: one attitude complaint (class 1), breached and still open
    events += complaint(EAST, category="service_attitude", cls=1, dept="customer_service", received=d + timedelta(days=3),
                        closed=False, first_response_met=None, due=d + timedelta(days=3, hours=8), breached=True,
                        dated=False)
    # riverside: one price complaint (class 1), closed, on time
    events += complaint(RIVER, category="price", cls=1, dept="business", received=d + timedelta(days=5), closed=True,
                        first_response_met=d + timedelta(days=5, hours=1), due=d + timedelta(days=5, hours=8),
                        dated=False)
    # south: one external complaint (class 3), in May, and one in June (another period)
    events += complaint(SOUTH, category="external_environment", cls=3, dept="customer_service",
                        received=d + timedelta(days=6), closed=False, first_response_met=d + timedelta(days=6, hours=3),
                        due=d + timedelta(days=6, hours=8))
    events += complaint(SOUTH, category="product_quality", cls=2, dept="engineering_quality",
                        received=datetime(2026, 6, 2, 9, tzinfo=CN), closed=False, first_response_met=None,
                        due=datetime(2026, 6, 2, 17, tzinfo=CN))
    # two household surveys at lakeside (scheme B): q1 satisfied twice; q2 satisfied once, dissatisfied once;
    # q3 unanswered once, dissatisfied once
    for levels in ((True, True, None), (True, False, False)):
        response = uuid.uuid4()
        events.append(SurveyReturned.create(
            data=SurveyReturnedData(response_id=response, template_id="household", template_version=1, scheme="B",
                                    returned_at=d + timedelta(days=10), answers=tuple(
                                        ItemAnswer(item_id=f"q{i + 1}", level=None if s is None else ("satisfied" if s else "dissatisfied"),
                                                   satisfied=s) for i, s in enumerate(levels))),
            org=EAST, aggregate_id=response, occurred_at=d + timedelta(days=10), producer="survey"))
    return events


async def publish(settings: Settings, events: list[Event]) -> None:
    await publish_events(settings, events)


async def dump(settings: Settings) -> str:
    """Every fact table, ordered: the byte-for-byte comparison of two builds of the views."""
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        out = []
        for table, order in (("case_facts", "case_id"), ("deadline_facts", "case_id, kind"),
                             ("survey_facts", "response_id"), ("survey_item_facts", "response_id, item_id")):
            rows = await conn.fetch(f"SELECT * FROM reporting.{table} ORDER BY {order}")
            out.append(json.dumps([dict(r) for r in rows], default=str, sort_keys=True))
        return "\n".join(out)
    finally:
        await conn.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 31, 23, 0, tzinfo=CN)

    def __call__(self) -> datetime:
        return self.now


async def test_views_match_the_hand_worked_month_and_a_rebuild_reproduces_them(migrated: Settings) -> None:
    events = scripted_month()
    delivery = events + random.Random(7).sample(events, 12)  # duplicates
    random.Random(11).shuffle(delivery)  # and out of order across topics
    clock = Clock()
    async with running_service(create_app(migrated, clock=clock)) as reporting:
        await publish(migrated, delivery)

        async def summary(org: str = "hx") -> dict:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": org})
            assert r.status_code == 200, r.text
            return r.json()

        async def settled() -> tuple[dict, int]:
            s = await summary()
            sat = (await reporting.get("/api/v1/reports/satisfaction", params={"period": "2026-05", "org": "hx"})).json()
            return s, sat["responses"]

        group, _ = await eventually(settled, until=lambda r: r[0]["complaints"] == 5 and r[0]["closed"] == 2
                                    and r[1] == 2 and r[0]["deadlines"]["first_response"]["total"] == 5, timeout=40)
        await asyncio.sleep(1)  # late duplicates must not change anything
        group = await summary()
        # 5 complaints in May across the group: classes 1,1 / 2,2 / 3
        assert group["by_class"] == {"1": 2, "2": 2, "3": 1}
        assert group["by_category"] == {"product_quality": 2, "external_environment": 1, "price": 1,
                                        "service_attitude": 1}
        assert group["by_department"] == {
            "business": {"total": 1, "1": 1, "2": 0, "3": 0},
            "customer_service": {"total": 2, "1": 1, "2": 0, "3": 1},
            "engineering_quality": {"total": 2, "1": 0, "2": 2, "3": 0},
        }
        assert (group["valid"], group["closed"], group["open"]) == (2, 2, 3)
        # first responses: on time lakeside #1, riverside, south = 3; late lakeside #2 = 1; breached open = 1
        fr = group["deadlines"]["first_response"]
        assert (fr["met_on_time"], fr["met_late"], fr["overdue_open"], fr["pending"]) == (3, 1, 1, 0)
        assert fr["on_time_rate"] == 60.0  # 3 of 5
        # the dated schedules put their deadlines in the case's month; the undated ones leave it to the case
        conn = await asyncpg.connect(migrated.db.admin_url)
        try:
            periods = sorted((r["period"] or "-", r["n"]) for r in await conn.fetch(
                "SELECT period, count(*) AS n FROM reporting.deadline_facts GROUP BY period"))
        finally:
            await conn.close()
        assert periods == [("-", 2), ("2026-05", 3), ("2026-06", 1)]
        east = await summary("hx/east")
        assert (east["complaints"], east["by_class"]) == (4, {"1": 2, "2": 2, "3": 0})
        lakeside = await summary("hx/east/lakeside")
        assert lakeside["complaints"] == 3 and lakeside["open"] == 2

        pareto = (await reporting.get("/api/v1/reports/pareto", params={"quarter": "2026-Q2", "org": "hx"})).json()
        # Q2: product_quality 3 (two in May, one in June), then 1 each, alphabetical
        assert [(b["category"], b["complaints"], b["cumulative_share"]) for b in pareto["categories"]] == [
            ("product_quality", 3, 50.0), ("external_environment", 1, 66.67), ("price", 1, 83.33),
            ("service_attitude", 1, 100.0)]

        sat = (await reporting.get("/api/v1/reports/satisfaction", params={"period": "2026-05", "org": "hx"})).json()
        # q1 2/2 = 100 %, q2 1/2 = 50 %, q3 0/1 = 0 % (the unanswered one left out) → mean 50 %
        assert [(i["item_id"], i["rate"]) for i in sat["items"]] == [("q1", 100.0), ("q2", 50.0), ("q3", 0.0)]
        assert sat["overall_rate"] == 50.0 and sat["qualified"] is False

        opened = (await reporting.get("/api/v1/reports/open-cases", params={"org": "hx/east/lakeside",
                                                                           "overdue_only": True})).json()
        assert [c["overdue"] for c in opened["cases"]] == [["first_response"]]
        assert "text" not in json.dumps(opened) and "cs-1" not in json.dumps(opened)

        bad = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-13", "org": "hx"})
        assert bad.status_code == 422
        live = await dump(migrated)
        with pytest.raises(RebuildRefused, match="stop every replica"):
            await rebuild(migrated, wait_idle_s=0)

    report = await rebuild(migrated, confirm=True)
    assert report.swapped and report.projected == len(events) and report.records == len(delivery)
    rebuilt = await dump(migrated)
    for table_live, table_rebuilt in zip(live.splitlines(), rebuilt.splitlines(), strict=True):
        rows_live, rows_rebuilt = json.loads(table_live), json.loads(table_rebuilt)
        assert len(rows_rebuilt) == len(rows_live)
        for row_live, row_rebuilt in zip(rows_live, rows_rebuilt, strict=True):
            assert {k: (row_live[k], v) for k, v in row_rebuilt.items() if row_live[k] != v} == {}
    assert rebuilt == live

    # The service resumes from its own offsets; what the replay applied is skipped by the inbox.
    extra = complaint(SOUTH, category="price", cls=1, dept="business", received=T0 + timedelta(days=12),
                      closed=False, first_response_met=None, due=T0 + timedelta(days=12, hours=8))
    async with running_service(create_app(migrated, clock=clock)) as reporting:
        await publish(migrated, extra)

        async def complaints() -> int:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": "hx"})
            return int(r.json()["complaints"])

        assert await eventually(complaints, until=lambda n: n == 6) == 6


async def test_the_monthly_summary_is_published_on_the_5th_and_republished_when_late_events_change_it(
    migrated: Settings,
) -> None:
    from shared.testing.services import read_topic
    from shared.topics import REPORT_PUBLISHED

    events = scripted_month()
    clock = Clock()
    clock.now = datetime(2026, 6, 4, 23, 0, tzinfo=CN)  # not yet the 5th
    app = create_app(migrated, clock=clock)
    async with running_service(app) as reporting:
        await publish(migrated, events)

        async def complaints() -> int:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": "hx"})
            return int(r.json()["complaints"])

        await eventually(complaints, until=lambda n: n == 5)
        publisher = app.state.publisher
        assert await publisher.publish_once() == 0  # the 4th: nothing is due yet
        clock.now = datetime(2026, 6, 5, 8, 0, tzinfo=CN)
        first = await publisher.publish_once()
        # May's summary for every org unit with facts: hx, hx/east, hx/east/lakeside, hx/east/riverside,
        # hx/south, hx/south/hillview → 6 reports
        assert first == 6
        assert await publisher.publish_once() == 0  # nothing changed: nothing republished
        listed = (await reporting.get("/api/v1/reports/published", params={"period": "2026-05", "org": "hx"})).json()
        assert [(r["kind"], r["revision"]) for r in listed] == [("monthly_summary", 1)]
        snapshot = (await reporting.get("/api/v1/reports/published/monthly_summary/2026-05/1",
                                        params={"org": "hx"})).json()
        assert snapshot["content"]["complaints"] == 5 and snapshot["content"]["by_class"] == {"1": 2, "2": 2, "3": 1}

        late = complaint(SOUTH, category="price", cls=1, dept="business", received=T0 + timedelta(days=20),
                         closed=False, first_response_met=None, due=T0 + timedelta(days=20, hours=8))
        await publish(migrated, late)
        await eventually(complaints, until=lambda n: n == 6)
        # the late complaint changes May for hx, hx/south and hx/south/hillview → three revisions 2
        assert await publisher.publish_once() == 3
        revised = (await reporting.get("/api/v1/reports/published/monthly_summary/2026-05/2",
                                       params={"org": "hx"})).json()
        assert revised["content"]["complaints"] == 6 and revised["report_id"] == snapshot["report_id"]
        records = await read_topic(migrated, REPORT_PUBLISHED, until=lambda r: len(r) >= 9)
    published = [json.loads(r.value)["data"] for r in records]
    group = sorted((p["revision"], p["content"]["complaints"]) for p in published if p["org_path"] == "hx")
    assert group == [(1, 5), (2, 6)]
    assert all("cs-1" not in json.dumps(p) for p in published)  # no people in report events
