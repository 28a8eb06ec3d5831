"""Repairs, campaign distribution, project service scores and customer-manager scorecards on the real
broker and PostgreSQL: a scripted May (and the year's evaluations) delivered twice and out of order,
every figure worked out by hand below; each view also downloads as CSV."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from openpyxl import load_workbook

from services.reporting.app import create_app
from services.reporting.rebuild import rebuild
from shared.events import Event, OrgPath, RepairAccepted, SurveyReturned
from shared.events.cases import (
    CaseOpened,
    CaseOpenedData,
    Deadline,
    DeadlineBreached,
    DeadlineMet,
    DeadlineOutcomeData,
    DeadlinesScheduled,
    DeadlinesScheduledData,
)
from shared.events.catalog import ItemAnswer, RepairAcceptedData, SurveyReturnedData
from shared.events.repairs import (
    RecurringDefectDetected,
    RecurringDefectDetectedData,
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
from shared.events.surveys import (
    ProjectEvaluationOverdue,
    ProjectEvaluationRecorded,
    ProjectEvaluationRecordedData,
    ProjectEvaluationScheduleData,
    ProjectFlagged,
    ProjectFlaggedData,
    StageScore,
    SurveyCampaignClosed,
    SurveyCampaignClosedData,
    SurveyCampaignPlanned,
    SurveyCampaignPlannedData,
)
from shared.settings import Settings
from shared.testing.services import eventually, running_service
from tests.reporting.integration.test_views import publish

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
LAKE = OrgPath(group="hx", subsidiary="east", project="lakeside")
RIVER = OrgPath(group="hx", subsidiary="east", project="riverside")
HILL = OrgPath(group="hx", subsidiary="south", project="hillview")
NOW = datetime(2026, 5, 31, 23, 0, tzinfo=CN)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CN)


def make(cls: type[Event], data: object, org: OrgPath, key: uuid.UUID, when: datetime, producer: str) -> Event:
    return cls.create(data=data, org=org, aggregate_id=key, occurred_at=when, producer=producer, correlation_id=key)


def step(org: OrgPath, order: uuid.UUID, name: str, when: datetime, **extra: object) -> Event:
    return make(RepairStepRecorded, RepairStepRecordedData(
        work_order_id=order, step=name, previous_state="x", state="y", actor="site-1", at=when, **extra),
        org, order, when, "routing")


def opened(org: OrgPath, order: uuid.UUID, requested: datetime, *, in_warranty: bool, cases: int = 1) -> Event:
    return make(WorkOrderOpened, WorkOrderOpenedData(
        work_order_id=order, project_id=org.project, origin="repair_request", case_ids=tuple(uuid.uuid4()
                                                                                            for _ in range(cases)),
        defect_kind="leak", defect_vocabulary_version="t", requested_at=requested,
        warranty_status="in_warranty" if in_warranty else "expired", in_warranty=in_warranty,
        chargeable=not in_warranty, respond_by=requested + timedelta(hours=24) if in_warranty else None),
        org, order, requested, "routing")


def plan(finish: datetime, asked: datetime | None, chargeable: bool) -> RepairPlanDetails:
    return RepairPlanDetails(scope="repair", duration_hours=4, resources="2 fitters", planned_finish=finish,
                             customer_requested_by=asked, chargeable=chargeable,
                             quoted_fee=Decimal("300") if chargeable else None, agreed_with="owner")


def accepted(org: OrgPath, order: uuid.UUID, requested: datetime, when: datetime, *, in_warranty: bool,
             rework: int, cases: int) -> Event:
    return make(RepairAccepted, RepairAcceptedData(
        work_order_id=order, project_id=org.project, case_ids=tuple(uuid.uuid4() for _ in range(cases)),
        defect_kind="leak", in_warranty=in_warranty, requested_at=requested, accepted_at=when,
        owner_signature_ref="sig/o", contractor_signature_ref="sig/c", chargeable=not in_warranty,
        quoted_fee=None if in_warranty else Decimal("300"), rework_count=rework), org, order, when, "routing")


def repairs_of_may() -> list[Event]:
    investigation = SiteInvestigation(nature="leak", cause="seal", responsibility="construction", in_scope=True)
    # WO1 lakeside, in warranty: asked 6 May 10:00, respond by 7 May 10:00, investigated 6 May 16:00 (on time);
    # the owner asked for 9 May 18:00; done 9 May 12:00, acceptance refused 15:00, done again 10 May 11:00
    # (late), accepted 10 May 14:00 after one rework: 100 hours; three households on the order.
    w1, r1 = uuid.uuid4(), at(5, 6, 10)
    events = [
        opened(LAKE, w1, r1, in_warranty=True),
        make(WorkOrderCaseLinked, WorkOrderCaseLinkedData(work_order_id=w1, case_id=uuid.uuid4(),
                                                          link_reason="same_area", case_count=2, at=at(5, 6, 11)),
             LAKE, w1, at(5, 6, 11), "routing"),
        make(WorkOrderCaseLinked, WorkOrderCaseLinkedData(work_order_id=w1, case_id=uuid.uuid4(),
                                                          link_reason="same_area", case_count=3, at=at(5, 6, 12)),
             LAKE, w1, at(5, 6, 12), "routing"),
        step(LAKE, w1, "investigate", at(5, 6, 16), investigation=investigation),
        step(LAKE, w1, "agree_plan", at(5, 6, 17), plan=plan(at(5, 10, 18), at(5, 9, 20), False)),
        step(LAKE, w1, "agree_plan", at(5, 6, 18), plan=plan(at(5, 9, 16), at(5, 9, 18), False)),  # revised plan
        step(LAKE, w1, "complete_work", at(5, 9, 12)),
        make(RepairAcceptanceRejected, RepairAcceptanceRejectedData(
            work_order_id=w1, project_id="lakeside", case_ids=(), reason="still drips", actor="site-1",
            at=at(5, 9, 15), rework_count=1), LAKE, w1, at(5, 9, 15), "routing"),
        step(LAKE, w1, "complete_work", at(5, 10, 11)),
        step(LAKE, w1, "verify_quality", at(5, 10, 13),
             verification={"passed": True, "department": "engineering_quality"}),
        accepted(LAKE, w1, r1, at(5, 10, 14), in_warranty=True, rework=1, cases=3),
    ]
    # WO2 riverside, out of warranty (chargeable), asked 20 May 09:00; plan finish 22 May 18:00 (no time asked);
    # done 22 May 10:00 (on time), accepted first time 22 May 16:00: 55 hours.
    w2, r2 = uuid.uuid4(), at(5, 20)
    events += [
        opened(RIVER, w2, r2, in_warranty=False),
        step(RIVER, w2, "investigate", at(5, 21), investigation=investigation),
        step(RIVER, w2, "agree_plan", at(5, 21, 10), plan=plan(at(5, 22, 18), None, True)),
        step(RIVER, w2, "complete_work", at(5, 22, 10)),
        accepted(RIVER, w2, r2, at(5, 22, 16), in_warranty=False, rework=0, cases=1),
    ]
    # WO3 hillview, in warranty, asked 30 May 09:00, nobody on site by 31 May 09:00: overdue and open.
    w3 = uuid.uuid4()
    events.append(opened(HILL, w3, at(5, 30), in_warranty=True))
    # WO4 lakeside, asked in April and accepted in April: counted in neither May figure.
    w4 = uuid.uuid4()
    events += [opened(LAKE, w4, at(4, 2), in_warranty=True),
               accepted(LAKE, w4, at(4, 2), at(4, 3), in_warranty=True, rework=0, cases=1)]
    remediation = uuid.uuid4()
    events.append(make(RecurringDefectDetected, RecurringDefectDetectedData(
        remediation_id=remediation, project_id="lakeside", defect_kind="leak", work_order_ids=(w1, w4, uuid.uuid4()),
        occurrences=3, threshold=3, window_days=180, detected_at=at(5, 15)), LAKE, remediation, at(5, 15), "routing"))
    return events


def campaigns_of_h1() -> list[Event]:
    lake, river = uuid.uuid4(), uuid.uuid4()
    planned = {"round": "semiannual", "rule": "occupancy", "period": "2026H1", "template_id": "household",
               "template_version": 1, "seed": "s", "carried_over": 0, "hand_out_by": at(5, 3), "collect_by": at(5, 13),
               "return_target_percent": 60.0}
    return [
        make(SurveyCampaignPlanned, SurveyCampaignPlannedData(
            campaign_id=lake, project_id="lakeside", occupied_units=100, households=120, required=85, drawn=85,
            **planned), LAKE, lake, at(5, 1), "survey"),
        make(SurveyCampaignClosed, SurveyCampaignClosedData(
            campaign_id=lake, project_id="lakeside", period="2026H1", round="semiannual", rule="occupancy", scheme="B",
            closed_at=at(5, 14), distributed=85, returned=60, refused=2, return_rate=70.59, return_target_percent=60.0,
            return_ok=True, distribution_required=85, distribution_ok=True, score=97.2, satisfied=True),
            LAKE, lake, at(5, 14), "survey"),
        make(SurveyCampaignPlanned, SurveyCampaignPlannedData(
            campaign_id=river, project_id="riverside", occupied_units=250, households=250, required=250, drawn=250,
            **planned), RIVER, river, at(5, 1), "survey"),
    ]


def evaluations_of_2026() -> list[Event]:
    """lakeside: pre-construction 85 (3 Feb), post-completion 92 (10 Apr), the May process sheet 78
    (4 Jun) completes the project score 0.2 × 85 + 0.5 × 78 + 0.3 × 92 = 83.6, qualified; no
    satisfaction project (83.6 < 90, a sheet under 80). riverside: its May sheet overdue on 5 Jun,
    its manager flagged on 1 Jul."""
    events: list[Event] = []
    sheets = {"pre_construction": 85.0, "post_completion": 92.0}
    for stage, score, day, period in (("pre_construction", 85.0, date(2026, 2, 3), "signing"),
                                      ("post_completion", 92.0, date(2026, 4, 10), "2026Q1"),
                                      ("construction", 78.0, date(2026, 6, 4), "2026-05")):
        evaluation = uuid.uuid4()
        done = stage == "construction"
        sheets[stage] = score
        events.append(make(ProjectEvaluationRecorded, ProjectEvaluationRecordedData(
            evaluation_id=evaluation, project_id="lakeside", stage=stage, period=period, response_id=uuid.uuid4(),
            evaluated_on=day, sheet_score=score, sheet_grade="excellent" if score > 90 else "qualified",
            sheet_scores=tuple(StageScore(stage=s, score=v) for s, v in sheets.items()),
            project_score=83.6 if done else None, project_grade="qualified" if done else None,
            satisfaction_project=False if done else None),
            LAKE, evaluation, datetime.combine(day, datetime.min.time(), CN), "survey"))
    late, flag = uuid.uuid4(), uuid.uuid4()
    events.append(make(ProjectEvaluationOverdue, ProjectEvaluationScheduleData(
        evaluation_id=late, project_id="riverside", stage="construction", period="2026-05", opens_on=date(2026, 6, 1),
        due_on=date(2026, 6, 5), template_id="service-process"), RIVER, late, at(6, 6), "survey"))
    events.append(make(ProjectFlagged, ProjectFlaggedData(
        flag_id=flag, project_id="riverside", flag="manager", reasons=("two fails in a row",), source="evaluation",
        score=65.0, threshold=70.0, flagged_at=at(7, 1)), RIVER, flag, at(7, 1), "survey"))
    return events


def cases_of_may() -> list[Event]:
    """cs-1 received A (first response on time, result delivered on time, its return visit: q1
    satisfied, q2 dissatisfied) and B (first response breached, still open); cs-2 received C (first
    response met late)."""
    events: list[Event] = []

    def case(owner: str, received: datetime, org: OrgPath = LAKE) -> uuid.UUID:
        case_id = uuid.uuid4()
        events.append(make(CaseOpened, CaseOpenedData(case_id=case_id, feedback_id=uuid.uuid4(), kind="complaint",
                                                      received_at=received, first_contact_owner=owner),
                           org, case_id, received, "routing"))
        return case_id

    def deadlines(case_id: uuid.UUID, *due: tuple[str, datetime]) -> None:
        events.append(make(DeadlinesScheduled, DeadlinesScheduledData(case_id=case_id, calendar_version="t", deadlines=tuple(
            Deadline(kind=kind, due_at=when, explanation="t") for kind, when in due)), LAKE, case_id, at(5, 4), "routing"))

    def met(case_id: uuid.UUID, kind: str, due: datetime, when: datetime) -> None:
        events.append(make(DeadlineMet, DeadlineOutcomeData(case_id=case_id, kind=kind, due_at=due, met_at=when),
                           LAKE, case_id, when, "routing"))

    a, b, c = case("cs-1", at(5, 4)), case("cs-1", at(5, 5)), case("cs-2", at(5, 6))
    deadlines(a, ("first_response", at(5, 4, 17)), ("result_delivery", at(5, 8, 17)))
    met(a, "first_response", at(5, 4, 17), at(5, 4, 11))
    met(a, "result_delivery", at(5, 8, 17), at(5, 8, 10))
    deadlines(b, ("first_response", at(5, 5, 17)))
    events.append(make(DeadlineBreached, DeadlineOutcomeData(case_id=b, kind="first_response", due_at=at(5, 5, 17)),
                       LAKE, b, at(5, 5, 17), "routing"))
    deadlines(c, ("first_response", at(5, 6, 17)))
    met(c, "first_response", at(5, 6, 17), at(5, 7, 10))
    response = uuid.uuid4()
    events.append(make(SurveyReturned, SurveyReturnedData(
        response_id=response, template_id="return-visit", template_version=1, scheme="B", case_id=a,
        returned_at=at(5, 12), answers=(ItemAnswer(item_id="q1", level="satisfied", satisfied=True),
                                        ItemAnswer(item_id="q2", level="dissatisfied", satisfied=False))),
        LAKE, response, at(5, 12), "survey"))
    return events


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_repairs_campaigns_scores_and_scorecards_match_the_hand_worked_figures(migrated: Settings) -> None:
    events = repairs_of_may() + campaigns_of_h1() + evaluations_of_2026() + cases_of_may()
    delivery = events + random.Random(3).sample(events, 15)  # duplicates
    random.Random(5).shuffle(delivery)  # and out of order
    async with running_service(create_app(migrated, clock=lambda: NOW)) as reporting:
        await publish(migrated, delivery)

        async def get(path: str, **params: str) -> dict:
            response = await reporting.get(f"/api/v1/reports/{path}", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        async def all_in() -> tuple[dict, dict, dict, dict]:
            return (await get("repairs", period="2026-05", org="hx"),
                    await get("distribution", round_period="2026H1", org="hx"),
                    await get("project-scores", year="2026", org="hx"),
                    await get("customer-managers", period="2026-05", org="hx"))

        repairs, spread, scores, cards = await eventually(all_in, until=lambda v: (
            v[0]["accepted"] == 2 and v[0]["requested"] == 3 and v[0]["deadlines"]["repair_finish"]["total"] == 2
            and v[0]["recurring_defects"] and v[1]["totals"]["closed"] == 1 and v[1]["totals"]["campaigns"] == 2
            and v[2]["flagged_managers"] and v[2]["grades"]["qualified"] == 1
            and sum(len(p["sheets"]) for p in v[2]["projects"]) == 3
            and [m["answered_items"] for m in v[3]["managers"]] == [2, 0]
            and v[3]["managers"][0]["deadlines"]["result_delivery"]["met_on_time"] == 1
            and v[3]["managers"][1]["deadlines"]["first_response"]["fell_due"] == 1
            and v[0]["households"] == 5 and v[0]["quality_verified"] == 1
            and v[0]["deadlines"]["repair_response"]["met_on_time"] == 1), timeout=40)

        # Repairs in May across the group: WO1, WO2, WO3 asked (two in warranty, one chargeable);
        # WO1 (100 h, one rework) and WO2 (55 h) accepted; WO3 still open; WO4 is April's.
        assert (repairs["requested"], repairs["in_warranty"], repairs["chargeable"]) == (3, 2, 1)
        assert (repairs["accepted"], repairs["accepted_first_time"], repairs["rejected_acceptances"]) == (2, 1, 1)
        assert repairs["households"] == 3 + 1 + 1 and repairs["open"] == 1 and repairs["quality_verified"] == 1
        assert repairs["hours_to_acceptance"] == {"mean": 77.5, "median": 77.5, "max": 100.0}
        # 24-hour response: WO1 on time, WO3 overdue (WO2 is out of warranty: no such deadline)
        assert repairs["deadlines"]["repair_response"] == {
            "total": 2, "met_on_time": 1, "met_late": 0, "overdue_open": 1, "pending": 0, "on_time_rate": 50.0}
        # finished when asked: WO1's revised plan asked for 9 May 18:00, finished 10 May 11:00 (late); WO2 on time
        assert repairs["deadlines"]["repair_finish"] == {
            "total": 2, "met_on_time": 1, "met_late": 1, "overdue_open": 0, "pending": 0, "on_time_rate": 50.0}
        assert repairs["by_defect_kind"] == {"leak": 3}
        assert [(d["project_id"], d["defect_kind"], d["occurrences"], d["accepted_at"])
                for d in repairs["recurring_defects"]] == [("lakeside", "leak", 3, None)]
        east = await get("repairs", period="2026-05", org="hx/east")
        assert (east["requested"], east["accepted"], east["open"]) == (2, 2, 0)
        assert east["deadlines"]["repair_response"]["on_time_rate"] == 100.0
        april = await get("repairs", period="2026-04", org="hx/east/lakeside")
        assert (april["requested"], april["accepted"], april["hours_to_acceptance"]["max"]) == (1, 1, 24.0)

        # the §4 deadlines sit beside the §3 ones in the deadline-compliance view
        compliance = await get("deadline-compliance", period="2026-05", org="hx")
        assert compliance["deadlines"]["repair_response"]["overdue_open"] == 1
        assert compliance["deadlines"]["first_response"]["total"] == 3

        # Distribution: lakeside closed with 60 of 85 back (70.59 % against 60 %), riverside still running.
        assert spread["totals"] == {"campaigns": 2, "closed": 1, "required": 85 + 250, "distributed": 85,
                                    "returned": 60, "return_rate": 70.59, "meeting_return_target": 1,
                                    "meeting_distribution_rule": 1, "satisfied": 1}
        lake = next(c for c in spread["campaigns"] if c["project_id"] == "lakeside")
        assert (lake["households"], lake["occupied_units"], lake["return_ok"], lake["score"]) == (120, 100, True, 97.2)

        # Project service scores of 2026.
        by_project = {p["project_id"]: p for p in scores["projects"]}
        assert {s: v["score"] for s, v in by_project["lakeside"]["sheets"].items()} == {
            "pre_construction": 85.0, "post_completion": 92.0, "construction": 78.0}
        assert (by_project["lakeside"]["project_score"], by_project["lakeside"]["project_grade"],
                by_project["lakeside"]["satisfaction_project"]) == (83.6, "qualified", False)
        assert (by_project["riverside"]["overdue"], [f["flag"] for f in by_project["riverside"]["flags"]]) == (1, ["manager"])
        assert scores["grades"] == {"excellent": 0, "qualified": 1, "fail": 0}
        assert scores["flagged_managers"] == ["riverside"]

        # Customer-manager scorecards for May.
        one, two = cards["managers"]
        assert (one["owner"], one["cases"], one["complaints"]) == ("cs-1", 2, 2)
        assert one["deadlines"]["first_response"] == {"fell_due": 2, "met_on_time": 1, "on_time_rate": 50.0}
        assert one["deadlines"]["result_delivery"] == {"fell_due": 1, "met_on_time": 1, "on_time_rate": 100.0}
        assert (one["answered_items"], one["satisfied_items"], one["satisfaction_rate"]) == (2, 1, 50.0)
        assert (two["owner"], two["cases"]) == ("cs-2", 1)
        assert two["deadlines"]["first_response"] == {"fell_due": 1, "met_on_time": 0, "on_time_rate": 0.0}
        assert two["satisfaction_rate"] is None

        # the same figures as downloads
        for path, params, expected in (
            ("repairs", {"period": "2026-05", "org": "hx"}, ["2026-05", "hx", "accepted", "联合验收", "2"]),
            ("distribution", {"round_period": "2026H1", "org": "hx"}, ["2026H1", "hx/east/lakeside", "lakeside"]),
            ("project-scores", {"year": "2026", "org": "hx"}, ["2026", "hx/east/lakeside", "lakeside", "3", "0"]),
            ("customer-managers", {"period": "2026-05", "org": "hx"}, ["2026-05", "hx", "cs-1", "2", "2"]),
        ):
            response = await reporting.get(f"/api/v1/reports/{path}", params={**params, "format": "csv"})
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            rows = csv_rows(response.content)
            assert any(row[:len(expected)] == expected for row in rows), (path, rows)
            workbook = await reporting.get(f"/api/v1/reports/{path}", params={**params, "format": "xlsx"})
            sheet = load_workbook(io.BytesIO(workbook.content)).worksheets[0]
            assert any([str(v) for v in row[:len(expected)]] == expected
                       for row in sheet.iter_rows(min_row=2, values_only=True)), path

        bad = await reporting.get("/api/v1/reports/distribution", params={"round_period": "2026H3", "org": "hx"})
        assert bad.status_code == 422
        live = await dump(migrated)

    # a rebuild from the topics reproduces these facts row for row
    report = await rebuild(migrated, confirm=True)
    assert report.projected == len(events)
    assert await dump(migrated) == live


async def dump(settings: Settings) -> str:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        out = []
        for table, order in (("repair_facts", "work_order_id"), ("remediation_facts", "remediation_id"),
                             ("campaign_facts", "campaign_id"), ("evaluation_facts", "evaluation_id"),
                             ("project_flag_facts", "flag_id"), ("case_owner_facts", "case_id")):
            rows = await conn.fetch(f"SELECT * FROM reporting.{table} ORDER BY {order}")
            assert rows, table
            out.append(json.dumps([dict(r) for r in rows], default=str, sort_keys=True))
        return "\n".join(out)
    finally:
        await conn.close()
