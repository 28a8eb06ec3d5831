"""The README's run command: `careloop dev` brings the whole stack up with the thin path working,
keeps the user's data (PostgreSQL with fsync on, demo data loaded once per database), writes each
service's log to a file, restarts a service that died without touching the others, and drains the
pipeline before it stops the broker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.clock import month_of
from shared.devstack import free_port
from shared.settings import SERVICES

pytestmark = pytest.mark.e2e


class Stack:
    """One `careloop dev` process; its terminal output goes to a file the test reads."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        self.out = out
        self.mark = out.stat().st_size if out.exists() else 0
        with open(out, "ab") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "dev", *args], env=env, stdout=sink,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for("CareLoop is running", timeout_s=150)

    def said(self) -> str:
        return self.out.read_bytes()[self.mark:].decode(errors="replace")

    def wait_for(self, text: str, *, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in (said := self.said()):
                return said
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(f"`careloop dev` never said {text!r} (exit code {self.proc.poll()}):\n{self.said()[-3000:]}")

    def pid_of(self, service: str) -> int:
        match = re.search(rf"^{service}\s+running\s+pid (\d+)", self.said(), re.MULTILINE)
        assert match, self.said()
        return int(match.group(1))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=120)


def dev_token(env: dict[str, str], user: str) -> str:
    """A token from the stack's development issuer, as an operator gets one."""
    return subprocess.run([sys.executable, "-m", "shared.cli", "token", "--user", user], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def complaints(port: int, token: str, *, at_least: int) -> int:
    period = month_of(datetime.now(UTC))
    deadline = time.monotonic() + 30
    while True:
        total = httpx.get(f"http://127.0.0.1:{port}/api/v1/reports/complaint-counts",
                          params={"period": period, "org": "hx"},
                          headers={"Authorization": f"Bearer {token}"}).json()["total"]
        if total >= at_least or time.monotonic() > deadline:
            return int(total)
        time.sleep(0.2)


def repair_orders(port: int, token: str) -> dict[str, dict[str, object]]:
    """The work orders opened by repair requests, by project, once both demo requests are on one."""
    deadline = time.monotonic() + 30
    while True:
        orders = httpx.get(f"http://127.0.0.1:{port}/api/v1/work-orders",
                           headers={"Authorization": f"Bearer {token}"}).json()
        by_project = {o["project_id"]: o for o in orders if o["origin"] == "repair_request"}
        if len(by_project) >= 2 or time.monotonic() > deadline:
            return by_project
        time.sleep(0.3)


def query(admin_url: str, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(admin_url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def post_complaint(port: int, token: str) -> None:
    response = httpx.post(f"http://127.0.0.1:{port}/api/v1/feedback", headers={"Authorization": f"Bearer {token}"},
                          json={"kind": "complaint", "channel": "phone", "text": "电梯经常故障停运",
                                "received_by": "cs-0001",
                                "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}})
    assert response.status_code == 201, response.text


def test_careloop_dev_keeps_the_users_data_logs_to_files_restarts_and_drains(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARELOOP_", "KAFKA_"))}
    data = tmp_path / "data"
    env["CARELOOP_DATA_DIR"] = str(data)
    ports = {service: free_port() for service in SERVICES}
    for service, port in ports.items():
        env[f"CARELOOP_PORT_{service.upper()}"] = str(port)
    issuer_port, pg_port = free_port(), free_port()
    env["CARELOOP_AUTH_DEV_ISSUER_PORT"] = str(issuer_port)
    infra_ports = ["--kafka-port", str(free_port()), "--pg-port", str(pg_port), "--issuer-port", str(issuer_port)]
    admin_url = f"postgresql://postgres:postgres@127.0.0.1:{pg_port}/careloop"
    out = tmp_path / "terminal.txt"
    # shared/demo.py, counted by hand: six of its eight feedback records are complaints
    demo_complaints = 6
    today = datetime.now(UTC).date()

    stack = Stack(env, out, *infra_ports)
    try:
        for port in ports.values():
            assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
        reports = f"http://127.0.0.1:{ports['reporting']}/api/v1/reports/complaint-counts"
        period = {"period": month_of(datetime.now(UTC)), "org": "hx"}
        assert httpx.get(reports, params=period).status_code == 401  # no token, no figures
        executive = dev_token(env, "executive")
        assert complaints(ports["reporting"], executive, at_least=demo_complaints) == demo_complaints
        # the south subsidiary's handler sees the south only
        south = {"Authorization": f"Bearer {dev_token(env, 'handler-south')}"}
        assert httpx.get(reports, params=period, headers=south).status_code == 403

        # the user's data: a committed row survives a power cut
        assert query(admin_url, "SHOW fsync") == "on"
        assert query(admin_url, "SHOW synchronous_commit") == "on"

        # the demo registered its projects' warranty periods before the repair requests: lakeside was
        # completed 365 days ago with 730 days of warranty, hillview 6 x 365 days ago with 5 x 365
        orders = repair_orders(ports["routing"], executive)
        assert orders["lakeside"]["warranty_status"] == "in_warranty"
        assert date.fromisoformat(str(orders["lakeside"]["warranty_end"])) == today + timedelta(days=365)
        assert orders["lakeside"]["chargeable"] is False
        assert orders["hillview"]["warranty_status"] == "expired"
        assert date.fromisoformat(str(orders["hillview"]["warranty_end"])) == today - timedelta(days=365)
        assert orders["hillview"]["chargeable"] is True

        # each service logs to its own file; the terminal keeps the URLs and a status line each
        for name in (*SERVICES, "dev-issuer"):
            assert (data / "logs" / f"{name}.log").stat().st_size > 0, name
            assert re.search(rf"^{name}\s+running\s+pid \d+", stack.said(), re.MULTILINE), name
        for service in SERVICES:
            assert "service started" in (data / "logs" / f"{service}.log").read_text(errors="replace"), service
        assert "service started" not in stack.said()

        # a service that dies is started again; the others are not touched
        routing_pid, intake_pid = stack.pid_of("routing"), stack.pid_of("intake")
        os.kill(routing_pid, signal.SIGKILL)
        stack.wait_for("routing     running again", timeout_s=60)
        assert httpx.get(f"http://127.0.0.1:{ports['routing']}/health/live").status_code == 200
        os.kill(intake_pid, 0)  # still the same process
        assert "restarting in 1 s" in stack.said()

        feedback_loaded = query(admin_url, "SELECT count(*) FROM intake.feedback")
        # one complaint just before Ctrl-C: the stop waits until reporting has it
        post_complaint(ports["intake"], dev_token(env, "cs-group"))
    finally:
        assert stack.stop() == 0
    assert "draining    done" in stack.said(), stack.said()[-2000:]

    stack = Stack(env, out, *infra_ports)
    try:
        assert "not loaded again" in stack.said()
        # the demo was not loaded a second time: the same feedback as before, and the one complaint
        assert query(admin_url, "SELECT count(*) FROM intake.feedback") == feedback_loaded + 1
        # the views came back from PostgreSQL's disk, and so did the issuer's key: old tokens still work
        assert complaints(ports["reporting"], executive, at_least=demo_complaints + 1) == demo_complaints + 1
        assert len(repair_orders(ports["routing"], executive)) == 2
    finally:
        assert stack.stop() == 0
