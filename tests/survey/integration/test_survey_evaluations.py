"""Project service evaluations (scheme C) on their schedule, driven by an injected clock: due and
overdue events, sheets, the weighted project score, and the flags on the project and its manager."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from services.survey.app import create_app
from services.survey.builtin import BUILTIN_TEMPLATES, SHEET_TEMPLATES
from shared.events.vocabulary import ProjectStage
from shared.settings import Settings
from shared.testing.services import eventually, running_service
from survey_helpers import FakeClock, events_on, project_registered, publish, survey_settings

pytestmark = pytest.mark.integration


def sheet(stage: ProjectStage, level: str) -> list[dict]:
    return [{"item_id": i.item_id, "level": level} for i in BUILTIN_TEMPLATES[SHEET_TEMPLATES[stage]].items]


async def evaluations(client: httpx.AsyncClient) -> dict[str, dict]:
    rows = (await client.get("/api/v1/projects/tower/evaluations")).json()
    return {f"{r['stage']}:{r['period']}": r for r in rows}


async def stage_is(client: httpx.AsyncClient, stage: str) -> None:
    await eventually(lambda: client.get("/api/v1/projects/tower"),
                     until=lambda r: r.status_code == 200 and r.json()["stage"] == stage)


async def test_evaluations_fall_due_go_overdue_score_the_project_and_flag_its_manager(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    app = create_app(survey_settings(migrated), clock=clock)
    scheduler = app.state.scheduler
    async with running_service(app) as client:
        # The scan the scheduler runs at start-up comes first (else it could be the one to plan below).
        async def scans() -> int:
            return int(scheduler.scans_completed)

        await eventually(scans, until=lambda n: n >= 1)
        # Signed: the project is first heard of before construction (the registry has no signing date).
        await publish(migrated, project_registered("tower", households=0, buildings=[], stage="pre_construction",
                                                   at=clock.now))
        await stage_is(client, "pre_construction")
        done = await scheduler.scan_once()
        assert (done["evaluations_planned"], done["evaluation_events"]) == (1, 1)
        pre = (await evaluations(client))["pre_construction:signing"]
        assert (pre["opens_on"], pre["due_on"], pre["due_notified"]) == ("2026-03-02", "2026-03-09", True)
        assert (await scheduler.scan_once())["evaluation_events"] == 0  # each event once

        clock.now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
        assert (await scheduler.scan_once())["evaluation_events"] == 1  # overdue
        recorded = await client.post(f"/api/v1/evaluations/{pre['evaluation_id']}/sheet",
                                     json={"answers": sheet(ProjectStage.PRE_CONSTRUCTION, "satisfied")})
        assert recorded.status_code == 201, recorded.text
        assert (recorded.json()["sheet_score"], recorded.json()["sheet_grade"]) == (100.0, "excellent")
        assert recorded.json()["project_score"] is None  # not all three sheets yet

        await publish(migrated, project_registered("tower", households=0, buildings=[], stage="construction",
                                                   revision=2, at=clock.now))
        await stage_is(client, "construction")
        clock.now = datetime(2026, 5, 2, 2, 0, tzinfo=UTC)
        done = await scheduler.scan_once()
        rows = await evaluations(client)
        assert {k: (r["opens_on"], r["due_on"]) for k, r in rows.items() if k.startswith("construction")} == {
            "construction:2026-03": ("2026-04-01", "2026-04-05"), "construction:2026-04": ("2026-05-01", "2026-05-05"),
            "construction:2026-05": ("2026-06-01", "2026-06-05")}
        assert rows["construction:2026-03"]["overdue_notified"] and rows["construction:2026-04"]["due_notified"]
        assert not rows["construction:2026-05"]["due_notified"]
        due = await events_on(migrated, "ProjectEvaluationDue", until=lambda e: len(e) >= 3)
        overdue = await events_on(migrated, "ProjectEvaluationOverdue", until=lambda e: len(e) >= 2)
        assert sorted(e["data"]["period"] for e in due) == ["2026-03", "2026-04", "signing"]
        assert sorted(e["data"]["period"] for e in overdue) == ["2026-03", "signing"]

        # Two failed process self-checks in a row: the project and its manager are flagged.
        for period, day in (("2026-03", "2026-04-03"), ("2026-04", "2026-05-02")):
            failed = await client.post(f"/api/v1/evaluations/{rows['construction:' + period]['evaluation_id']}/sheet",
                                       json={"answers": sheet(ProjectStage.CONSTRUCTION, "qualified"),
                                             "evaluated_on": day})
            assert failed.status_code == 201 and failed.json()["sheet_grade"] == "fail"  # 50 points
        flags = (await client.get("/api/v1/projects/tower/flags")).json()
        assert sorted((f["flag"], f["reasons"]) for f in flags) == [
            ("manager", ["two_fails_in_a_row", "two_fails_in_a_year"]),
            ("unsatisfactory_score", ["sheet_below_70"]), ("unsatisfactory_score", ["sheet_below_70"])]
        manager = next(f for f in flags if f["flag"] == "manager")
        assert (manager["flag_name"], manager["reason_names"]) == ("项目经理预警", ["连续二次不合格", "同一年度累计二次不合格"])
        english = (await client.get("/api/v1/projects/tower/flags", params={"lang": "en"})).json()
        assert next(f["reason_names"] for f in english if f["flag"] == "manager") == [
            "Two fails in a row", "Two fails in a year"]

        # After completion, quarterly during the warranty; with all three sheets the project is scored.
        await publish(migrated, project_registered("tower", households=0, buildings=[], stage="post_completion",
                                                   revision=3, at=clock.now, completion_date=date(2026, 5, 10),
                                                   warranty_end=date(2028, 5, 10)))
        await stage_is(client, "post_completion")
        clock.now = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)
        await scheduler.scan_once()
        post = (await evaluations(client))["post_completion:2026Q2"]
        assert (post["opens_on"], post["due_on"]) == ("2026-05-10", "2026-06-30")
        items = sheet(ProjectStage.POST_COMPLETION, "satisfied")
        items[0] = {"item_id": items[0]["item_id"], "level": "hazard", "deduction": 5}  # a 15-point item: -5
        scored = await client.post(f"/api/v1/evaluations/{post['evaluation_id']}/sheet",
                                   json={"answers": items, "hazard_deduction": 10})
        assert scored.status_code == 201, scored.text
        # post sheet: 100 - 15 - 5 - 10 = 70; project: 0.2 × 100 + 0.5 × 50 + 0.3 × 70 = 66 → fail
        body = scored.json()
        assert (body["sheet_score"], body["project_score"], body["project_grade"]) == (70.0, 66.0, "fail")
        assert body["satisfaction_project"] is False
        flags = (await client.get("/api/v1/projects/tower/flags")).json()
        assert len(flags) == 4 and ["project_score_below_70"] in [f["reasons"] for f in flags]
        [recorded_event] = [e for e in await events_on(migrated, "ProjectEvaluationRecorded",
                                                       until=lambda e: len(e) >= 4) if e["data"]["project_score"]]
        assert recorded_event["data"]["project_score"] == 66.0
        again = await client.post(f"/api/v1/evaluations/{post['evaluation_id']}/sheet", json={"answers": items})
        assert again.status_code == 409
