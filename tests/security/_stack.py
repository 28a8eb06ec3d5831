"""The four services in one process for the bad-input, pagination and schemathesis tests, and a walk
over every route each app declares (so that a route added later is covered without a new test)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from services.intake.app import create_app as intake_app
from services.reporting.app import create_app as reporting_app
from services.routing.app import create_app as routing_app
from services.survey.app import create_app as survey_app
from shared.auth.http import api_routes
from shared.settings import Settings
from shared.testing.services import running_service

APPS = {"intake": intake_app, "routing": routing_app, "survey": survey_app, "reporting": reporting_app}


@contextlib.asynccontextmanager
async def four_services(settings: Settings) -> AsyncIterator[dict[str, tuple[FastAPI, httpx.AsyncClient]]]:
    async with contextlib.AsyncExitStack() as exits:
        out = {}
        for name, create in APPS.items():
            app = create(settings)
            out[name] = (app, await exits.enter_async_context(running_service(app)))
        yield out


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the route's template, "/api/v1/projects/{project_id}"
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    has_body: bool


def operations(app: FastAPI) -> Iterator[Operation]:
    for full_path, route, _ in api_routes(app.routes):
        dependant = route.dependant
        queries: list[str] = []
        stack = [dependant]
        while stack:  # query parameters of the route and of its dependencies (pagination's limit/offset)
            d = stack.pop()
            queries.extend(p.alias for p in d.query_params)
            stack.extend(d.dependencies)
        paths = tuple(p.alias for p in dependant.path_params)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            yield Operation(method, full_path.replace(":path}", "}"), paths, tuple(dict.fromkeys(queries)),
                            has_body=dependant.body_params != [] or method in {"POST", "PUT", "PATCH"})


def url(op: Operation, **values: str) -> str:
    path = op.path
    for name in op.path_params:
        value = values.get(name, "probe")
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path
