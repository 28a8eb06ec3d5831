"""Survey answers are scoped to org units like everything else: a subsidiary's staff cannot enter a
form for another subsidiary nor read one of its returned forms; the household page needs no token."""

from __future__ import annotations

import pytest

from services.survey.app import create_app
from shared.auth import Role
from shared.settings import Settings
from shared.testing.auth import bearer
from shared.testing.services import running_service

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
