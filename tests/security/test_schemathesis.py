"""The issue's "done when": a bounded schemathesis run over each service's OpenAPI finds no 5xx.

Each service runs as a real HTTP server (uvicorn, in a thread with its own event loop, so its broker
and database pool live on the loop that serves them) on the test's broker and PostgreSQL. For every
operation of its OpenAPI, schemathesis generates a fixed number of requests (``MAX_EXAMPLES``, valid
and invalid ones, derandomized: the same requests on every run) with the test operator's token
(every role, every group: the requests reach the handlers instead of stopping at 403), and the
``not_a_server_error`` check fails on any 5xx."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from shared.settings import Settings
from shared.testing.auth import operator_headers
from tests.security._stack import APPS

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")]

MAX_EXAMPLES = 25


@contextlib.contextmanager
def serving(factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(factory, factory=True, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the service did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


@pytest.mark.parametrize("service", list(APPS))
def test_no_operation_answers_5xx(migrated: Settings, service: str) -> None:
    headers = operator_headers()
    failures: list[str] = []
    operations = 0
    calls = [0]
    # the app is made inside the server's event loop (its Kafka clients belong to that loop)
    with serving(lambda: APPS[service](migrated)) as base_url, requests.Session() as session:
        schema = schemathesis.openapi.from_dict(session.get(f"{base_url}/openapi.json").json())
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                                 operation.as_strategy(GenerationMode.NEGATIVE))

            @hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                                 suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @hypothesis.given(case=strategy)
            def run(case) -> None:  # type: ignore[no-untyped-def]
                calls[0] += 1
                case.call_and_validate(base_url=base_url, session=session, headers=headers,
                                       checks=[not_a_server_error])

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected, so every operation is tried
                failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations > 3 and calls[0] > operations * 5, (operations, calls)  # the run ran
    assert not failures, "\n\n".join(failures)
