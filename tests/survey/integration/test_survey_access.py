"""Survey answers are scoped to org units like everything else: a subsidiary's staff cannot enter a
form for another subsidiary nor read one of its returned forms; the household page needs no token."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.survey.app import create_app
from shared.auth import Role
from shared.events import OrgPath
from shared.events.catalog import ProjectRegistered, ProjectRegisteredData
from shared.settings import Settings
from shared.testing.auth import bearer
from shared.testing.services import eventually, running_service
from tests.survey.integration.survey_helpers import publish

pytestmark = pytest.mark.integration

SOUTH = {"group": "hx", "subsidiary": "south", "project": "hillview"}
FORM = {"template_id": "household-satisfaction", "scheme": "B", "org": SOUTH, "channel": "paper",
        "answers": [{"item_id": "property_service", "level": "satisfied"},
                    {"item_id": "cleaning", "level": "dissatisfied"},
                    {"item_id": "maintenance", "level": "very_satisfied"}]}
EAST_MANAGER = bearer("manager-east", roles=[Role.CUSTOMER_MANAGER], orgs=["hx/east"])
SOUTH_MANAGER = bearer("manager-south", roles=[Role.CUSTOMER_MANAGER], orgs=["hx/south"])


async def test_forms_are_entered_and_read_only_inside_ones_org_units(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as survey:
        refused = await survey.post("/api/v1/survey-responses", json=FORM, headers=EAST_MANAGER)
        assert refused.status_code == 403 and refused.json()["error"] == "out_of_scope"
        taken = await survey.post("/api/v1/survey-responses", json=FORM, headers=SOUTH_MANAGER)
        assert taken.status_code == 201, taken.text
        url = f"/api/v1/survey-responses/{taken.json()['response_id']}"
        assert (await survey.get(url, headers=EAST_MANAGER)).status_code == 404
        assert (await survey.get(url, headers=SOUTH_MANAGER)).status_code == 200
        handler = bearer("handler-south", roles=[Role.HANDLER], orgs=["hx/south"])
        assert (await survey.post("/api/v1/templates", json={}, headers=handler)).status_code == 403


async def test_refused_forms_are_listed_only_inside_ones_org_units(migrated: Settings) -> None:
    hillview = ProjectRegistered.create(
        data=ProjectRegisteredData(project_id="hillview", name="项目 hillview", stage="property_management",
                                   households=10, occupancy_start=date(2023, 6, 1), buildings=("1",), revision=1),
        org=OrgPath(**SOUTH), aggregate_id="hillview", occurred_at=datetime.now(UTC), producer="intake")
    bad = {**FORM, "project_id": "hillview",
           "answers": [*FORM["answers"], {"item_id": "no_such_item", "level": "satisfied"}]}
    async with running_service(create_app(migrated)) as survey:
        await publish(migrated, hillview)
        refused = await survey.post("/api/v1/survey-responses", json=bad, headers=SOUTH_MANAGER)
        assert refused.status_code == 422, refused.text
        unknown_item = "'no_such_item' 不是 household-satisfaction 第 1 版的题目"
        assert refused.json()["fields"] == [{"field": "answers.3.item_id", "reason": unknown_item}]

        async def listed(headers: dict[str, str] | None = None, **params: str) -> list[dict]:
            response = await survey.get("/api/v1/refused-answers", headers=headers, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        # whose a refusal is comes from the project's org unit, known once the registry's copy arrives
        south = await eventually(lambda: listed(SOUTH_MANAGER), until=lambda rows: len(rows) == 1, timeout=30)
        assert south[0]["reason"] == f"answers.3.item_id：{unknown_item}"
        assert south[0]["problems"] == [{"field": "answers.3.item_id", "reason": unknown_item}]
        # kept in both languages: read in English when asked, whatever language the form came in
        unknown_en = "'no_such_item' is not an item of household-satisfaction v1"
        [english] = await listed(SOUTH_MANAGER, lang="en")
        assert english["reason"] == f"answers.3.item_id: {unknown_en}"
        assert english["problems"] == [{"field": "answers.3.item_id", "reason": unknown_en}]
        assert await listed(EAST_MANAGER) == []
        assert len(await listed()) == 1  # the group sees it too
