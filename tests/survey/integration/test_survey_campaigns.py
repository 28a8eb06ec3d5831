"""Campaigns on the real broker and PostgreSQL: households from intake's registry events, the
seeded draw over the buildings, the distribution rules, returns, reminders, closing and flags."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from fractions import Fraction

import httpx
import pytest

from services.survey.app import create_app
from services.survey.campaign_service import plan_due_rounds
from services.survey.campaigns import CandidateUnit, draw_households

from shared.events.catalog import CustomerErased, CustomerErasedData
from shared.settings import Settings
from shared.testing.services import eventually, read_topic, running_service
from shared.topics import INBOUND_FEEDBACK
from survey_helpers import (
    ORG,
    FakeClock,
    estate_units,
    events_on,
    project_registered,
    publish,
    survey_settings,
    units_registered,
)

pytestmark = pytest.mark.integration


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def registered_estate(client: httpx.AsyncClient, settings: Settings, project_id: str,
                            buildings: dict[str, int], *, households: int, vacant_every: int = 0) -> list:
    units = estate_units(project_id, buildings, vacant_every=vacant_every)
    await publish(settings, project_registered(project_id, households=households, buildings=list(buildings)),
                  *units_registered(project_id, units))
    occupied = sum(1 for u in units if u.occupied)

    async def project() -> httpx.Response:
        return await client.get(f"/api/v1/projects/{project_id}")

    await eventually(project, until=lambda r: r.status_code == 200 and r.json()["occupied_units"] == occupied)
    return units


async def test_a_round_over_1000_households_in_8_buildings_meets_the_rules_and_spreads_evenly(
    migrated: Settings,
) -> None:
    buildings = {str(b): 125 for b in range(1, 9)}
    clock = FakeClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    async with running_service(create_app(survey_settings(migrated), clock=clock)) as client:
        units = await registered_estate(client, migrated, "lakeside", buildings, households=1000, vacant_every=20)
        occupied = [u for u in units if u.occupied]
        assert len(occupied) == 950

        first = await ok(await client.post("/api/v1/campaigns", json={"project_id": "lakeside", "period": "2026H1"}),
                         201)
        # ≥ 85 % of the 950 occupied units: 807.5 → 808 (the estate has more than 300 households)
        assert (first["required"], first["drawn"], first["handed_out"]) == (808, 808, 808)
        assert first["return_target_percent"] == 60 and first["distribution_ok"] is True
        assert first["collect_by"] == "2026-03-12T01:00:00+00:00" and first["hand_out_by"] == "2026-03-05T01:00:00+00:00"
        # Spread evenly: every building within one form of its share of the occupied units.
        per_building = first["buildings"]
        assert set(per_building) == set(buildings) and sum(b["drawn"] for b in per_building.values()) == 808
        for b in per_building.values():
            assert abs(Fraction(b["drawn"]) - Fraction(808 * b["occupied"], 950)) < 1, per_building

        # Reproducible: the seed alone decides which households are drawn.
        invited = await ok(await client.get("/api/v1/invitations", params={"campaign_id": first["campaign_id"]}))
        candidates = [CandidateUnit(u.unit_id, u.building, u.label, u.household_id) for u in occupied]
        expected = draw_households(candidates, required=808, seed=first["seed"])
        assert {i["unit_id"] for i in invited} == {str(u.unit_id) for u in expected.units}
        assert all(i["household_id"] for i in invited)

        [planned] = await events_on(migrated, "SurveyCampaignPlanned", until=lambda e: len(e) >= 1)
        assert planned["data"]["drawn"] == 808 and len(planned["data"]["buildings"]) == 8
        issued = await events_on(migrated, "SurveyInvitationIssued", until=lambda e: len(e) >= 808, timeout=30)
        assert len({e["data"]["invitation_id"] for e in issued}) == 808

        coverage = await ok(await client.get("/api/v1/projects/lakeside/coverage", params={"year": 2026}))
        assert (coverage["reached"], coverage["complete"]) == (808, False)

        # The second round of the year draws first the 142 units the first one missed: 100 % a year.
        clock.now = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
        second = await ok(await client.post("/api/v1/campaigns", json={"project_id": "lakeside"}), 201)
        assert second["period"] == "2026H2" and second["carried_over"] == 142 and second["drawn"] >= 808
        for b in second["buildings"].values():
            assert abs(Fraction(b["drawn"]) - Fraction(second["drawn"] * b["occupied"], 950)) <= 1
        coverage = await ok(await client.get("/api/v1/projects/lakeside/coverage", params={"year": 2026}))
        assert (coverage["occupied_units"], coverage["reached"], coverage["complete"]) == (950, 950, True)
        again = await client.post("/api/v1/campaigns", json={"project_id": "lakeside", "period": "2026H2"})
        assert again.status_code == 409 and again.json()["campaign_id"] == second["campaign_id"]


async def test_an_estate_of_250_households_is_surveyed_in_full_and_its_returns_tracked(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    app = create_app(survey_settings(migrated), clock=clock)
    async with running_service(app) as client:
        await registered_estate(client, migrated, "harbour", {"A": 130, "B": 120}, households=250)
        campaign = await ok(await client.post("/api/v1/campaigns", json={"project_id": "harbour"}), 201)
        # ≤ 300 households: every household, every round.
        assert (campaign["required"], campaign["drawn"]) == (250, 250)
        assert {b: v["drawn"] for b, v in campaign["buildings"].items()} == {"A": 130, "B": 120}
        campaign_id = campaign["campaign_id"]
        invitations = await ok(await client.get("/api/v1/invitations", params={"campaign_id": campaign_id}))
        assert len(invitations) == 250

        forms = [{"cleaning": "satisfied", "security": "very_satisfied"}, {"cleaning": "basically_satisfied"},
                 {"cleaning": "dissatisfied", "security": "satisfied"}]
        for invitation, form in zip(invitations, forms, strict=False):
            await ok(await client.post("/api/v1/survey-responses", json={
                "invitation_id": invitation["invitation_id"],
                "answers": [{"item_id": k, "level": v} for k, v in form.items()]}), 201)
        refused = await client.post("/api/v1/survey-responses", json={
            "invitation_id": invitations[3]["invitation_id"], "answers": [{"item_id": "cleaning", "level": "superb"}]})
        assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "answers.0.level"
        audit = await ok(await client.get("/api/v1/refused-answers", params={"campaign_id": campaign_id}))
        assert [r["reason_code"] for r in audit] == ["invalid_answers"]

        progress = await ok(await client.get(f"/api/v1/campaigns/{campaign_id}"))
        assert (progress["returned"], progress["return_rate"], progress["return_ok"]) == (3, 1.2, False)
        [remark] = await read_topic(migrated, INBOUND_FEEDBACK, until=lambda r: len(r) >= 1)
        assert b'"channel":"solicitation"' in remark.value and b'"kind":"survey_remark"' in remark.value

        # An erased customer loses every link survey holds.
        erased_household = uuid.UUID(invitations[10]["household_id"])
        now = clock.now
        await publish(migrated, CustomerErased.create(
            data=CustomerErasedData(customer_id=erased_household, erased_at=now), org=ORG,
            aggregate_id=erased_household, occurred_at=now, producer="intake"))

        async def erased_invitation() -> dict:
            return (await client.get("/api/v1/invitations", params={"campaign_id": campaign_id})).json()[10]

        assert (await eventually(erased_invitation, until=lambda i: i["household_id"] is None))["invitation_id"] == (
            invitations[10]["invitation_id"])

        # Day 5: every household still silent gets a reminder; day 10 the round closes.
        scheduler = app.state.scheduler
        clock.now = datetime(2026, 3, 7, 1, 1, tzinfo=UTC)
        done = await scheduler.scan_once()
        assert done["reminders"] == 247 and done["campaigns_closed"] == 0
        assert (await scheduler.scan_once())["reminders"] == 0  # once per reminder due
        clock.now = datetime(2026, 3, 12, 1, 1, tzinfo=UTC)
        done = await scheduler.scan_once()
        assert done["campaigns_closed"] == 1 and done["reminders"] == 0

        [closed] = await events_on(migrated, "SurveyCampaignClosed", until=lambda e: len(e) >= 1)
        data = closed["data"]
        assert (data["distributed"], data["returned"], data["refused"]) == (250, 3, 1)
        assert (data["return_rate"], data["return_target_percent"], data["return_ok"]) == (1.2, 60.0, False)
        assert data["distribution_ok"] is True
        # cleaning 2 of 3 = 66.67 %, security 2 of 2 = 100 %: mean 83.33 % < 96 % → not qualified
        assert (data["score"], data["satisfied"]) == (83.33, False)
        [flag] = await events_on(migrated, "ProjectFlagged", until=lambda e: len(e) >= 1)
        assert flag["data"]["project_id"] == "harbour" and flag["data"]["reasons"] == ["satisfaction_rate_below_qualified"]
        reminders = await events_on(migrated, "SurveyReminderDue", until=lambda e: len(e) >= 247)
        assert {r["data"]["kind"] for r in reminders} == {"answer"}

        late = await client.post("/api/v1/survey-responses", json={
            "invitation_id": invitations[5]["invitation_id"], "answers": [{"item_id": "cleaning", "level": "satisfied"}]})
        assert late.status_code == 409 and late.json()["error"] == "token_expired"

        # With automatic rounds on, the next half-year's round is planned by the scheduler itself.
        clock.now = datetime(2026, 7, 2, 1, 0, tzinfo=UTC)
        auto = dataclasses.replace(scheduler.deps, auto_campaign_template="household-satisfaction")
        for expected in (1, 0):
            async with app.state.runtime.uow_factory() as uow:
                assert await plan_due_rounds(uow=uow, deps=auto) == expected
                await uow.commit()
        rounds = await ok(await client.get("/api/v1/campaigns", params={"project_id": "harbour"}))
        assert [(r["period"], r["status"], r["drawn"]) for r in rounds] == [("2026H2", "open", 250),
                                                                             ("2026H1", "closed", 250)]
        assert [r["status_name"] for r in rounds] == ["进行中", "已结束"]
