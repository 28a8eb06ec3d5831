"""A new year's holiday schedule, loaded on the real broker and PostgreSQL.

Two routing replicas and intake run; the clock is 3 Dec 2026, so 2027 has no official schedule.
Hand-worked (default hours Mon-Fri 08:30-12:00, 13:30-17:30):

* received Thu 31 Dec 2026 16:00: 1h30m that day; Fri 1 Jan (元旦) to Sun 3 Jan off; Mon 4 Jan
  08:30-12:00 3h30m, 13:30 + 3h → due Mon 4 Jan 16:30, provisional. With the loaded schedule
  (元旦 1-3 Jan) the due time stays, and is no longer provisional.
* received Thu 4 Feb 2027 16:00: 1h30m; by rule Fri 5 to Wed 10 Feb off (除夕 to 初三, two days in
  lieu); Thu 11 Feb 08:30 + 6h30m → due Thu 11 Feb 16:30, provisional. The loaded schedule gives
  Fri 5 to Sat 13 Feb off: Mon 15 Feb 08:30 + 6h30m → due Mon 15 Feb 16:30.

So loading the schedule changes two deadlines, and says so in two DeadlinesScheduled events; a
second load of the same file changes nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.intake.app import create_app as create_intake
from services.intake.config import IntakeSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.config import ReportingSettings
from services.routing.app import create_app as create_routing
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.national_calendar import NationalCalendar
from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.auth import bearer
from shared.testing.services import event_json, eventually, publish_raw, read_topic, running_service
from shared.topics import DEADLINES_SCHEDULED, FEEDBACK_RECEIVED, HOLIDAY_SCHEDULE_LOADED

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
EXAMPLE = (Path(__file__).parents[3] / "deploy" / "calendar" / "schedule.example.toml").read_bytes()


def feedback(received_at: datetime) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone",
                                text="客服人员态度恶劣，电话里推诿不管", received_at=received_at, received_by="cs-0001",
                                project_id="lakeside")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=received_at,
                                   producer="intake")


@contextlib.asynccontextmanager
async def replica(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_routing(RoutingSettings(**{**dict(settings), "calendar_refresh_interval_s": 0.2}), clock=clock)
    async with running_service(app) as client:
        yield client, app


async def first_response(client: httpx.AsyncClient, event: FeedbackReceived) -> dict:
    async def find() -> list:
        return (await client.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

    [case] = await eventually(find, until=lambda cases: len(cases) == 1)
    detail = (await client.get(f"/api/v1/cases/{case['case_id']}")).json()
    return {d["kind"]: d for d in detail["deadlines"]}["first_response"]


def due(deadline: dict) -> datetime:
    return datetime.fromisoformat(deadline["due_at"]).astimezone(CN)


async def test_loading_2027_counts_open_deadlines_again_on_every_replica(migrated: Settings) -> None:
    assert not NationalCalendar().has_official(2027), "the built-in data covers 2027 now: move this test a year on"
    clock = FakeClock(datetime(2026, 12, 3, 10, 0, tzinfo=CN))
    intake_app = create_intake(IntakeSettings(**{**dict(migrated), "calendar_refresh_interval_s": 0.2}), clock=clock)
    async with replica(migrated, clock) as (a, app_a), replica(migrated, clock) as (b, app_b), \
            running_service(intake_app), \
            running_service(create_reporting(ReportingSettings(**dict(migrated)), clock=clock)) as reporting:
        new_years_eve, spring = feedback(datetime(2026, 12, 31, 16, tzinfo=CN)), feedback(datetime(2027, 2, 4, 16, tzinfo=CN))
        for event in (new_years_eve, spring):
            await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        before = await first_response(a, new_years_eve), await first_response(a, spring)
        assert [due(d) for d in before] == [datetime(2027, 1, 4, 16, 30, tzinfo=CN),
                                            datetime(2027, 2, 11, 16, 30, tzinfo=CN)]
        assert all(d["provisional"] and "暂定：2027 年国务院节假日安排尚未载入" in d["explanation"] for d in before)

        views = await eventually(lambda: _json(reporting, "/api/v1/reports/calendar"),
                                 until=lambda v: v["open_provisional_deadlines"]["total"] == 2)
        assert views["missing_official_schedule"] == [2027] and views["open_provisional_deadlines"]["by_kind"] == {
            "first_response": 2}
        status = (await a.get("/api/v1/calendar")).json()
        assert status["missing_official_schedule"] == [2027] and "2027" in status["warning"]
        ready = (await b.get("/health/ready")).json()
        assert ready["status"] == "ready" and ready["notes"]["calendar"]["missing_official_schedule"] == [2027]

        # only administrators and the quality department load the national calendar
        refused = await a.post("/api/v1/calendar/schedules", content=EXAMPLE, headers=bearer("h-1", roles=["handler"]))
        assert refused.status_code == 403
        # a dry run counts what would change and keeps nothing
        dry = await a.post("/api/v1/calendar/schedules", params={"dry_run": "true"}, content=EXAMPLE)
        assert dry.status_code == 200 and dry.json()["deadlines_recomputed"] == 2 and dry.json()["dry_run"]
        assert (await a.get("/api/v1/calendar")).json()["missing_official_schedule"] == [2027]

        loaded = await a.post("/api/v1/calendar/schedules", files={"file": ("2027.toml", EXAMPLE)})
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["deadlines_recomputed"] == 2 and "已载入 2027 年" in loaded.json()["message"]
        digest = loaded.json()["digest"]
        after = await first_response(a, new_years_eve), await first_response(a, spring)
        assert [due(d) for d in after] == [datetime(2027, 1, 4, 16, 30, tzinfo=CN),
                                           datetime(2027, 2, 15, 16, 30, tzinfo=CN)]
        assert not any(d["provisional"] for d in after) and "暂定" not in after[1]["explanation"]

        again = await a.post("/api/v1/calendar/schedules", content=EXAMPLE)
        assert again.status_code == 200 and not again.json()["changed"] and again.json()["deadlines_recomputed"] == 0

        # replica b never handled the load: its refresher swaps the schedule in
        await eventually(lambda: _version(app_b), until=lambda v: v == _version_now(app_a))
        assert (await b.get("/api/v1/calendar")).json()["missing_official_schedule"] == []
        # intake keeps the event and counts Fri 12 Feb 2027 (off in the loaded schedule) as a day off
        intake_live = intake_app.state.calendar_refresher.live
        await eventually(lambda: _async(intake_live.calendar_version), until=lambda v: f"2027:{digest}" in v)
        assert not intake_live.is_working_time(datetime(2027, 2, 12, 10, tzinfo=CN), "hx/east/lakeside")

        rescheduled = await read_topic(migrated, DEADLINES_SCHEDULED, until=lambda records: sum(
            1 for r in records if event_json(r)["data"].get("rescheduled_by")) >= 2)
        changes = [event_json(r)["data"] for r in rescheduled if event_json(r)["data"].get("rescheduled_by")]
        assert len(changes) == 2  # one per changed deadline, none for the repeated load
        assert {c["rescheduled_by"] for c in changes} == {f"holiday-schedule:2027:{digest}"}
        # reporting keeps the schedule and the deadlines' new plans
        views = await eventually(lambda: _json(reporting, "/api/v1/reports/calendar"),
                                 until=lambda v: v["open_provisional_deadlines"]["total"] == 0 and v["loaded"])
        assert views["missing_official_schedule"] == [] and [y["year"] for y in views["loaded"]] == [2027]
        loads = await read_topic(migrated, HOLIDAY_SCHEDULE_LOADED, until=lambda records: len(records) >= 1)
        assert len(loads) == 1 and event_json(loads[0])["data"]["deadlines_recomputed"] == 2


async def test_a_bad_schedule_file_gets_field_level_reasons(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 12, 3, 10, 0, tzinfo=CN))
    async with replica(migrated, clock) as (client, _app):
        broken = EXAMPLE.replace(b'days_off = ["2027-06-09"]', b'days_off = ["2027-06-10"]')
        response = await client.post("/api/v1/calendar/schedules", content=broken)
        assert response.status_code == 422
        assert {"field": "holidays", "reason": "2027-06-09 是法定节假日（端午节），安排中却未放假"} in response.json()["fields"]
        empty = await client.post("/api/v1/calendar/schedules", content=b"")
        assert empty.status_code == 422 and empty.json()["fields"][0]["field"] == "(body)"
        days = (await client.get("/api/v1/calendar/days", params={"from": "2027-02-04", "to": "2027-02-11"})).json()
        assert [d["working"] for d in days] == [True, False, False, False, False, False, False, True]
        assert days[1]["holiday_zh"] == "春节" and all(d["provisional"] for d in days)


async def _json(client: httpx.AsyncClient, path: str) -> dict:
    return (await client.get(path)).json()


async def _async(value: object) -> object:
    return value


async def _version(app: object) -> str:
    return app.state.calendar_refresher.live.calendar_version  # type: ignore[attr-defined]


def _version_now(app: object) -> str:
    return app.state.calendar_refresher.live.calendar_version  # type: ignore[attr-defined]


async def test_the_operators_command_loads_a_schedule_into_routing(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import json

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.cli import main

    monkeypatch.setenv("CARELOOP_DB_URL_ROUTING", migrated.db.service_url("routing"))
    schedule = tmp_path / "2027.toml"
    schedule.write_bytes(EXAMPLE)
    broken = tmp_path / "broken.toml"
    broken.write_bytes(EXAMPLE.replace(b'days_off = ["2027-09-15"]', b'days_off = ["2027-09-16"]'))

    assert await asyncio.to_thread(main, ["calendar", "check", str(broken)]) == 2
    assert "2027-09-15 是法定节假日（中秋节）" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["calendar", "load", str(schedule), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    assert await asyncio.to_thread(main, ["calendar", "load", str(schedule), "--by", "ops-1"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["changed"] and loaded["year"] == 2027
    assert await asyncio.to_thread(main, ["calendar", "load", str(schedule)]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False  # the same file again: nothing
    assert await asyncio.to_thread(main, ["calendar", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["missing_official_schedule"] == [] and [s["year"] for s in status["loaded"]] == [2027]

    engine = create_async_engine(migrated.db.service_url("routing"))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(
                "SELECT year, loaded_by FROM routing.holiday_schedules"))).all()
            events = (await conn.execute(sa.text(
                "SELECT count(*) FROM routing.outbox WHERE event_type = 'HolidayScheduleLoaded'"))).scalar_one()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [(2027, "ops-1")]
    assert events == 1  # published by routing's relay when it runs
