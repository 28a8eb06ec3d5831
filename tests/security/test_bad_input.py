"""Issue 20 item 10: bad input is refused with field-level reasons, never a 500.

PostgreSQL refuses a NUL character (\\x00) in text, Python's dates stop at year 1 (a time zone's offset
taken off 0001-01-01T00:00 leaves the calendar), and 2**70 fits no database integer: each of these
in a body field, a path id, a query value or a CSV cell answered 500 on every service. The walks below
go over every route each app declares, so a route added later is covered without a new test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.security._stack import Operation, four_services, operations, url

pytestmark = pytest.mark.integration

NUL = "a\x00b"
HUGE = str(2**70)
YEAR_ONE = ["0001-01-01", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"]
NUL_REASON = "不能包含空字符（\\x00）"

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


def fields_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    return {f["field"]: f["reason"] for f in body.get("fields", [])}


async def call(client: httpx.AsyncClient, op: Operation, *, path: dict[str, str] | None = None,
               query: dict[str, str] | None = None, body: Any = None) -> httpx.Response:
    kwargs: dict[str, Any] = {"params": query or {}}
    if op.has_body:
        kwargs["json"] = {} if body is None else body
    return await client.request(op.method, url(op, **(path or {})), **kwargs)


async def test_nul_bytes_huge_integers_and_year_one_in_paths_and_queries_are_4xx_on_every_route(
        migrated: Settings) -> None:
    seen: list[str] = []
    async with four_services(migrated) as services:
        for service, (app, client) in services.items():
            for op in operations(app):
                for name in op.path_params:
                    answer = await call(client, op, path={name: NUL})
                    where = f"{service} {op.method} {op.path} path {name}=NUL"
                    seen.append(where)
                    assert answer.status_code == 422, f"{where}: {answer.status_code} {answer.text}"
                    assert fields_of(answer).get(f"path.{name}") == NUL_REASON, f"{where}: {answer.text}"
                    for bad in (HUGE, *YEAR_ONE):
                        answer = await call(client, op, path={name: bad})
                        assert 400 <= answer.status_code < 500, \
                            f"{service} {op.method} {op.path} path {name}={bad}: {answer.status_code} {answer.text}"
                for name in op.query_params:
                    answer = await call(client, op, query={name: NUL})
                    where = f"{service} {op.method} {op.path} query {name}=NUL"
                    seen.append(where)
                    assert answer.status_code == 422, f"{where}: {answer.status_code} {answer.text}"
                    assert fields_of(answer).get(f"query.{name}") == NUL_REASON, f"{where}: {answer.text}"
                    for bad in (HUGE, *YEAR_ONE):
                        answer = await call(client, op, query={name: bad})
                        assert answer.status_code < 500, \
                            f"{service} {op.method} {op.path} query {name}={bad}: {answer.status_code} {answer.text}"
                        if answer.status_code == 422:
                            assert fields_of(answer), answer.text  # a field is named
    # the walk reached the routes the review tried (not an empty loop)
    assert any("intake GET /api/v1/projects/{project_id} path project_id" in s for s in seen)
    assert any("routing GET /api/v1/cases query state" in s for s in seen)
    assert any("reporting GET /api/v1/reports/complaint-list query org" in s for s in seen)
    assert any(s.startswith("survey ") for s in seen)


async def test_a_nul_byte_anywhere_in_a_json_body_is_refused_naming_the_field_on_every_route(
        migrated: Settings) -> None:
    async with four_services(migrated) as services:
        for service, (app, client) in services.items():
            for op in operations(app):
                if not op.has_body:
                    continue
                body = {"probe": [{"deep": NUL}]}
                answer = await call(client, op, body=body)
                where = f"{service} {op.method} {op.path}"
                if answer.status_code in (401, 403, 404, 405, 413, 415):
                    continue  # refused before the body is read
                assert answer.status_code == 422, f"{where}: {answer.status_code} {answer.text}"
                assert fields_of(answer).get("probe.0.deep") == NUL_REASON, f"{where}: {answer.text}"


async def test_the_attempts_that_answered_500_are_refused_with_the_field_named(migrated: Settings) -> None:
    """The review's own requests: each a valid request but for one value (each answered 500)."""
    async with four_services(migrated) as services:
        intake = services["intake"][1]
        routing = services["routing"][1]
        reporting = services["reporting"][1]
        survey = services["survey"][1]
        for unit in ({"path": "hx", "name": "华兴集团"}, {"path": "hx/east", "name": "华东公司"},
                     {"path": "hx/east/lakeside", "name": "湖畔管理处", "unit_type": "property_office"}):
            assert (await intake.post("/api/v1/org-units", json=unit)).status_code == 201

        feedback = {"kind": "complaint", "channel": "phone", "text": "3号楼漏水\x00", "received_by": "cs-1",
                    "org": ORG}
        answer = await intake.post("/api/v1/feedback", json=feedback)
        assert answer.status_code == 422, answer.text
        assert fields_of(answer) == {"text": NUL_REASON}

        answer = await intake.post("/api/v1/org-units", json={"path": "hx/we\x00st", "name": "华西"})
        assert (answer.status_code, fields_of(answer)) == (422, {"path": NUL_REASON})

        answer = await intake.get("/api/v1/projects/LS%0001")
        assert (answer.status_code, fields_of(answer)) == (422, {"path.project_id": NUL_REASON})
        answer = await intake.get("/api/v1/projects", params={"org": "hx\x00"})
        assert (answer.status_code, fields_of(answer)) == (422, {"query.org": NUL_REASON})
        answer = await intake.get("/api/v1/org-units/hx%00")
        assert (answer.status_code, fields_of(answer)) == (422, {"path.path": NUL_REASON})

        # a CSV cell: the whole file is refused naming the row and the column
        sheet = "project_id,name,org,stage\nNEW-1,湖畔\x00二期,hx/east/lakeside,后期\n"
        answer = await intake.post("/api/v1/imports/projects", content=sheet.encode(),
                                   headers={"content-type": "text/csv"})
        assert (answer.status_code, fields_of(answer)) == (422, {"file.row2.name": NUL_REASON}), answer.text
        assert (await intake.get("/api/v1/projects/NEW-1")).status_code == 404

        answer = await routing.get("/api/v1/cases", params={"handler": "h\x00"})
        assert (answer.status_code, fields_of(answer)) == (422, {"query.handler": NUL_REASON})
        answer = await routing.get("/api/v1/work-orders", params={"project_id": "LS\x00"})
        assert (answer.status_code, fields_of(answer)) == (422, {"query.project_id": NUL_REASON})
        answer = await reporting.get("/api/v1/reports/complaint-list",
                                     params={"org": "hx\x00", "period": "2027-01"})
        assert (answer.status_code, fields_of(answer)) == (422, {"query.org": NUL_REASON})
        answer = await survey.get("/api/v1/templates/t%00")
        assert (answer.status_code, fields_of(answer)) == (422, {"path.template_id": NUL_REASON})

        # year 1 and 2**70
        answer = await routing.get("/api/v1/calendar/days", params={"from": "0001-01-01", "to": "0001-01-31"})
        assert answer.status_code == 422, answer.text
        assert set(fields_of(answer)) == {"query.from", "query.to"}
        answer = await survey.get("/api/v1/templates/builtin", params={"version": HUGE})
        assert answer.status_code == 422, answer.text
        assert set(fields_of(answer)) == {"query.version"}


async def test_asyncapi_is_served_on_every_service(migrated: Settings) -> None:
    async with four_services(migrated) as services:
        for service, (_, client) in services.items():
            answer = await client.get("/asyncapi.json")
            assert answer.status_code == 200, f"{service}: {answer.status_code} {answer.text[:300]}"
            spec = answer.json()
            assert spec["asyncapi"].startswith("3."), service
            assert spec["info"]["title"] == f"CareLoop {service}"
            assert spec["channels"], service  # the topics it consumes are described
