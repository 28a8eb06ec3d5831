"""The README's run command: `careloop dev` brings the whole stack up with the thin path working,
and PostgreSQL's data survives a restart of the stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shared.clock import month_of
from shared.demo import FEEDBACK
from shared.devstack import free_port
from shared.settings import SERVICES

pytestmark = pytest.mark.e2e


def start_stack(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "dev", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:
        if "CareLoop is running" in line:
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"`careloop dev` did not come up (exit code {proc.poll()})")


def stop_stack(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def dev_token(env: dict[str, str], user: str) -> str:
    """A token from the stack's development issuer, as an operator gets one."""
    return subprocess.run([sys.executable, "-m", "shared.cli", "token", "--user", user], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def complaints(port: int, token: str) -> int:
    period = month_of(datetime.now(UTC))
    deadline = time.monotonic() + 30
    while True:
        total = httpx.get(f"http://127.0.0.1:{port}/api/v1/reports/complaint-counts",
                          params={"period": period, "org": "hx"},
                          headers={"Authorization": f"Bearer {token}"}).json()["total"]
        expected = sum(1 for _, kind, _, _ in FEEDBACK if kind == "complaint")
        if total >= expected or time.monotonic() > deadline:
            return int(total)
        time.sleep(0.2)


def test_careloop_dev_runs_the_thin_path_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARELOOP_", "KAFKA_"))}
    env["CARELOOP_DATA_DIR"] = str(tmp_path / "data")
    ports = {service: free_port() for service in SERVICES}
    for service, port in ports.items():
        env[f"CARELOOP_PORT_{service.upper()}"] = str(port)
    issuer_port = free_port()
    env["CARELOOP_AUTH_DEV_ISSUER_PORT"] = str(issuer_port)
    infra_ports = ["--kafka-port", str(free_port()), "--pg-port", str(free_port()), "--issuer-port", str(issuer_port)]
    expected = sum(1 for _, kind, _, _ in FEEDBACK if kind == "complaint")

    proc = start_stack(env, *infra_ports)
    try:
        for port in ports.values():
            assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
        reports = f"http://127.0.0.1:{ports['reporting']}/api/v1/reports/complaint-counts"
        period = {"period": month_of(datetime.now(UTC)), "org": "hx"}
        assert httpx.get(reports, params=period).status_code == 401  # no token, no figures
        executive = dev_token(env, "executive")
        assert complaints(ports["reporting"], executive) == expected
        # the south subsidiary's handler sees the south only
        south = {"Authorization": f"Bearer {dev_token(env, 'handler-south')}"}
        assert httpx.get(reports, params=period, headers=south).status_code == 403
    finally:
        assert stop_stack(proc) == 0

    proc = start_stack(env, *infra_ports, "--no-demo")
    try:
        # the views came back from PostgreSQL's disk, and so did the issuer's key: old tokens still work
        assert complaints(ports["reporting"], executive) == expected
    finally:
        assert stop_stack(proc) == 0
