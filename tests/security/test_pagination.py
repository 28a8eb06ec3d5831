"""Issue 20 item 11: every list route pages, with a documented maximum: ``limit`` 1..500 (default
50), ``offset`` to page on, and the answer's headers say how to read the next page
(``X-Total-Count``, ``Link: <…>; rel="next"``, ``X-Next-Offset``). ``limit=-1`` answered everything."""

from __future__ import annotations

import pytest

from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.settings import Settings
from tests.security._stack import four_services

pytestmark = pytest.mark.integration

# Every list route of the four services (a list of records, however long the history grows).
LIST_ROUTES = {
    "intake": ["/api/v1/org-units", "/api/v1/projects", "/api/v1/projects/LS-01/units"],
    "routing": ["/api/v1/cases", "/api/v1/cases/overdue", "/api/v1/work-orders", "/api/v1/remediations"],
    "survey": ["/api/v1/templates", "/api/v1/campaigns", "/api/v1/projects/LS-01/evaluations",
               "/api/v1/projects/LS-01/flags"],
}


def limit_reason(answer) -> str | None:  # type: ignore[no-untyped-def]
    return {f["field"]: f["reason"] for f in answer.json().get("fields", [])}.get("query.limit")


async def test_limit_out_of_range_is_422_naming_the_field_on_every_list_route(migrated: Settings) -> None:
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (50, 500)
    async with four_services(migrated) as services:
        intake = services["intake"][1]
        for unit in ({"path": "hx", "name": "华兴集团"}, {"path": "hx/east", "name": "华东公司"},
                     {"path": "hx/east/lakeside", "name": "湖畔管理处", "unit_type": "property_office"}):
            assert (await intake.post("/api/v1/org-units", json=unit)).status_code == 201
        project = {"project_id": "LS-01", "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"},
                   "name": "湖畔花园", "stage": "post_completion", "completion_date": "2020-06-30",
                   "buildings": ["1"]}
        created = await intake.post("/api/v1/projects", json=project)
        assert created.status_code == 201, created.text
        for service, paths in LIST_ROUTES.items():
            client = services[service][1]
            for path in paths:
                for limit, reason in (("-1", "应不小于 1"), ("0", "应不小于 1"), ("501", "应不大于 500"),
                                      ("100000", "应不大于 500")):
                    answer = await client.get(path, params={"limit": limit})
                    assert answer.status_code == 422, f"{service} {path} limit={limit}: {answer.status_code}"
                    assert limit_reason(answer) == reason, f"{service} {path}: {answer.text}"
                answer = await client.get(path, params={"offset": "-1"})
                assert answer.status_code == 422, f"{service} {path} offset=-1: {answer.text}"
                answer = await client.get(path, params={"limit": "500", "offset": "0"})
                assert answer.status_code == 200, f"{service} {path}: {answer.text}"
                assert isinstance(answer.json(), list)
                assert answer.headers["X-Total-Count"] == str(len(answer.json()))


async def test_pages_follow_one_another_to_the_end(migrated: Settings) -> None:
    async with four_services(migrated) as services:
        intake = services["intake"][1]
        units = [{"path": "hx", "name": "华兴集团"}] + [{"path": f"hx/s{i}", "name": f"分公司{i}"} for i in range(1, 5)]
        for unit in units:
            assert (await intake.post("/api/v1/org-units", json=unit)).status_code == 201
        everything = (await intake.get("/api/v1/org-units")).json()
        assert len(everything) == 5  # the default (50) holds all five

        # limit 2: pages of 2, 2 and 1; each but the last names the next one
        first = await intake.get("/api/v1/org-units", params={"limit": 2})
        assert first.headers["X-Total-Count"] == "5"
        assert first.headers["X-Next-Offset"] == "2"
        assert first.headers["Link"] == '</api/v1/org-units?limit=2&offset=2>; rel="next"'
        second = await intake.get(first.headers["Link"].split(">")[0][1:])
        assert second.headers["X-Next-Offset"] == "4"
        third = await intake.get("/api/v1/org-units", params={"limit": 2, "offset": 4})
        assert "Link" not in third.headers and "X-Next-Offset" not in third.headers
        pages = first.json() + second.json() + third.json()
        assert [u["path"] for u in pages] == [u["path"] for u in everything]
        assert [len(p.json()) for p in (first, second, third)] == [2, 2, 1]

        # past the end: an empty page, no next
        beyond = await intake.get("/api/v1/org-units", params={"offset": 10})
        assert beyond.status_code == 200 and beyond.json() == [] and "Link" not in beyond.headers
