#!/usr/bin/env python
"""Intake: sustained accepted submissions per second and p50/p99 latency, (a) over HTTP and (b) on
the inbound topic, each beside a floor measured in the same run on the same broker and database.

(a) HTTP. Intake runs in this process under uvicorn (as ``careloop serve`` runs it: httptools and
    uvloop when installed) on a free loopback port, or with ``--workers N`` as ``careloop serve
    intake --workers N`` in processes of its own (N replicas sharing the port; the header and the
    labels say so); the senders run in a separate process, so that they do not share the service's
    event loop, over a pool of keep-alive connections: a minimal HTTP/1.1 client by default, or
    httpx.AsyncClient (``--client httpx``), which on a small machine cannot offer enough load
    (both are measured against a bare ASGI app, as the rig's ceiling).
    - closed loop: N concurrent senders post ``--http`` submissions as fast as they are answered;
    - open loop: ``--open-requests`` submissions offered at ``--open-rate``/s whatever the
      answers, latency counted from when each was due (so a stall is not hidden);
    - floor: bare asyncpg, one INSERT of the same row (same columns) per request, same
      concurrency and pool size as the service;
    - reference: a bare ASGI app answering 201 on the same uvicorn and senders.
(b) Inbound topic. ``--inbound`` submissions are produced to ``inbound.feedback`` first; then the
    consumer drains the backlog (rate from its first record to its last commit). Latency comes from
    an open-loop run at ``--topic-rate``/s: from when a message was due to when the transaction
    that took it committed.
    - floors: bare aiokafka consumption of the same messages; bare asyncpg INSERTs of the same rows
      in transactions of the consumer's batch size; both as one pipeline (consume → decode →
      insert → commit offsets), which is the floor the ratio is taken against.
    - ``--workers N``: the backlog is drained by ``careloop serve intake --workers N`` (N replicas
      in one consumer group), timed from intake's table; the open loop is then left out. ``--key``
      says what the submissions are keyed by: the sender's external id (default) or the project,
      which gives each replica its own projects (they never wait for each other's project locks).

Each drain and closed loop comes with the CPU all of the machine spent per submission (the service,
PostgreSQL's backends, the broker; the floor's likewise) and what that allows on its cores.

Every phase has its own database and topic prefix. The run is bounded and stops by itself.
``--profile`` adds a cProfile look at the service process after the measured runs (it does not
change the figures above it).

    .venv/bin/python bench/intake_bench.py [--http 5000] [--inbound 20000] [--workers 2] [--key project] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import socket
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

# Only light imports at the top: the sender process imports this module too.
import httpx
from benchkit import CpuMeter, Profile, Uvicorn, cpu_budget

TARGET_HTTP_RATE = 1_500
TARGET_HTTP_P99_MS = 50
TARGET_OPEN_RATE = 500
TARGET_INBOUND_RATE = 5_000

TEXTS = (
    "卫生间吊顶渗水，楼上住户也说过", "电梯经常停在12楼不动", "地下车库照明不足，晚上看不清",
    "外墙瓷砖脱落，差点砸到人", "物业费标准是怎么定的", "希望小区增加儿童游乐设施",
    "维修师傅态度很好，及时修好了水管", "门禁卡失灵，刷不开单元门", "施工噪音太大，晚上十点还在干活",
    "入户门变形关不严", "交房资料里缺少保修卡", "绿化带积水，蚊子很多",
)
KINDS = ("complaint", "repair_request", "complaint", "inquiry", "suggestion", "praise", "repair_request")
CHANNELS = ("phone", "web", "walk_in", "wechat")


def submission(i: int, *, projects: int, inbound: bool = False, run: str = "") -> dict[str, Any]:
    """The i-th submission of the workload: realistic text, spread over ``projects`` projects."""
    project = f"P{i % projects:03d}"
    body: dict[str, Any] = {
        "kind": KINDS[i % len(KINDS)], "channel": CHANNELS[i % len(CHANNELS)],
        "text": f"{TEXTS[i % len(TEXTS)]}（第{i}条）",
        "org": {"group": "hx", "subsidiary": "east", "project": project}, "project_id": project,
        "unit": f"{i % 30 + 1}-{i % 4 + 1}-{(i // 7) % 30 + 101}",
    }
    if inbound:
        body.update(message_type="FeedbackSubmission", schema_version=1, source_system="callcentre",
                    external_id=f"cc-{run}-{i}")
    else:
        body["received_by"] = f"cs-{i % 40:04d}"
    return body


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# --- the sender process ------------------------------------------------------------------------


def run_senders(spec: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the sender process (spawned): one closed- or open-loop run."""
    return asyncio.run(_senders(spec))


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams, with a pool of connections.

    httpx spends about 2 ms of CPU per request on this class of machine and slows down as its pool
    grows (see the reference lines), so it cannot offer 1,500 requests/s from one process: the
    senders would be measured, not the service. This one sends prebuilt requests and reads the
    status line and a Content-Length body, which is all the service answers with."""

    def __init__(self, url: str, connections: int, headers: dict[str, str] | None = None) -> None:
        self.extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        host_port = url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.slots: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(connections):
            self.slots.put_nowait(None)

    def request(self, path: str, body: bytes) -> bytes:
        return (f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{self.extra}\r\n").encode() + body

    async def send(self, request: bytes) -> int:
        connection = await self.slots.get()
        try:
            for attempt in (1, 2):
                if connection is None:
                    connection = await asyncio.open_connection(self.host, self.port)
                reader, writer = connection
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    break
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()  # the server closed an idle keep-alive connection: open another once
                    connection = None
                    if attempt == 2:
                        raise
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"transfer-encoding":
                    raise RuntimeError("chunked answers are not read by this client")
            if length:
                await reader.readexactly(length)
            return int(head[9:12])
        except BaseException:
            connection = None
            raise
        finally:
            self.slots.put_nowait(connection)

    async def close(self) -> None:
        while not self.slots.empty():
            if (connection := self.slots.get_nowait()) is not None:
                connection[1].close()


async def _senders(spec: dict[str, Any]) -> dict[str, Any]:
    first, count, warmup = spec["first"], spec["count"], spec["warmup"]
    bodies = [json.dumps(submission(first + i, projects=spec["projects"]), ensure_ascii=False).encode()
              for i in range(warmup + count)]
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    lateness: list[float] = []
    if spec["client"] == "httpx":
        limits = httpx.Limits(max_connections=spec["connections"], max_keepalive_connections=spec["connections"])
        client = httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=60)
        headers = {"content-type": "application/json", **spec.get("headers", {})}

        async def post(body: bytes) -> int:
            return (await client.post(spec["path"], content=body, headers=headers)).status_code

        close = client.aclose
    else:
        raw = RawHttp(spec["url"], spec["connections"], spec.get("headers"))
        requests = {id(body): raw.request(spec["path"], body) for body in bodies}

        async def post(body: bytes) -> int:
            return await raw.send(requests[id(body)])

        close = raw.close

    async def send(body: bytes, since: float, counted: bool) -> None:
        status = await post(body)
        if counted:
            latencies.append(time.perf_counter() - since)
            statuses[status] += 1

    async def closed(items: list[bytes], counted: bool) -> None:
        pending = iter(items)

        async def sender() -> None:
            for body in pending:
                await send(body, time.perf_counter(), counted)

        await asyncio.gather(*(sender() for _ in range(spec["connections"])))

    try:
        await closed(bodies[:warmup], counted=False)
        measured = bodies[warmup:]
        started = time.perf_counter()
        if spec["mode"] == "closed":
            await closed(measured, counted=True)
        else:
            rate, tasks = spec["rate"], []
            for i, body in enumerate(measured):
                due = started + i / rate
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                lateness.append(time.perf_counter() - due)
                tasks.append(asyncio.create_task(send(body, due, counted=True)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    finally:
        await close()
    return {"elapsed": elapsed, "latencies": latencies, "statuses": dict(statuses),
            "max_send_lateness": max(lateness, default=0.0)}


# --- results -----------------------------------------------------------------------------------


class Figure:
    def __init__(self, label: str, count: int, elapsed: float, latencies: list[float] | None = None,
                 note: str = "") -> None:
        self.label, self.count, self.elapsed = label, count, elapsed
        self.rate = count / elapsed if elapsed > 0 else float("nan")
        self.p50 = percentile(latencies or [], 50) * 1000
        self.p99 = percentile(latencies or [], 99) * 1000
        self.note = note

    def line(self) -> str:
        lat = f"{self.p50:9.1f} {self.p99:9.1f}" if self.p50 == self.p50 else f"{'-':>9} {'-':>9}"
        return f"  {self.label:<58} {self.rate:9,.0f} {lat}   {self.note}".rstrip()


class CpuFigure:
    """CPU time the service spent per submission: unlike a rate, hardly moved by what else runs on
    the machine, and it says what one core could do at best."""

    def __init__(self, seconds: float, count: int, where: str) -> None:
        self.per_submission_ms = 1000 * seconds / count if count else float("nan")
        self.where = where

    def line(self) -> str:
        ceiling = 1000 / self.per_submission_ms if self.per_submission_ms > 0 else float("nan")
        return (f"  CPU per submission in {self.where}: {self.per_submission_ms:.2f} ms "
                f"(one fully busy core: at most {ceiling:,.0f}/s)")


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"  {'':<58} {'accepted/s':>9} {'p50 ms':>9} {'p99 ms':>9}")


def load() -> str:
    """The machine's load: the figures are only as quiet as the machine was."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# --- infrastructure helpers --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fresh_settings(infra: Any) -> Any:
    """A database and topic prefix of its own, with the service's default pool and batch sizes."""
    from shared.settings import DatabaseSettings
    from shared.testing.infra import create_database, test_settings
    from shared.testing.services import migrate

    url = await create_database(infra.admin_url)
    settings = test_settings(infra, database_url=url, db=DatabaseSettings(admin_url=url),
                             relay_poll_interval_s=0.2, consumer_backoff_initial_s=0.1, consumer_backoff_max_s=2.0)
    await migrate(settings, ["intake"])
    conn = await _admin(settings)
    try:
        await conn.execute("CREATE SCHEMA bench_floor; "
                           "CREATE TABLE bench_floor.feedback (LIKE intake.feedback INCLUDING ALL)")
    finally:
        await conn.close()
    return settings


async def _admin(settings: Any) -> Any:
    import asyncpg

    return await asyncpg.connect(settings.db.admin_url.replace("postgresql+asyncpg://", "postgresql://"))


FLOOR_COLUMNS = ("id", "kind", "channel", "text", "received_at", "received_by", "in_working_time", "customer_id",
                 "project_id", "project_stage", "unit", "org_group", "org_subsidiary", "org_project", "attachments",
                 "source_system", "external_id", "duplicate_of", "incident_group_id", "correlation_id")
FLOOR_INSERT = (f"INSERT INTO bench_floor.feedback ({', '.join(FLOOR_COLUMNS)}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, len(FLOOR_COLUMNS) + 1))})")


def floor_row(body: dict[str, Any]) -> tuple[Any, ...]:
    """The row intake would write for this submission, without intake's logic."""
    import uuid
    from datetime import UTC, datetime

    org = body["org"]
    received_by = body.get("received_by") or f"system:{body.get('source_system')}"
    return (uuid.uuid4(), body["kind"], body["channel"], body["text"], datetime.now(UTC), received_by, False, None,
            body.get("project_id"), None, body.get("unit"), org["group"], org.get("subsidiary"), org.get("project"),
            [], body.get("source_system"), body.get("external_id"), None, None, uuid.uuid4())


async def truncate_floor(settings: Any) -> None:
    conn = await _admin(settings)
    try:
        await conn.execute("TRUNCATE bench_floor.feedback")
    finally:
        await conn.close()


class ServeProcess:
    """``careloop serve intake --workers N`` as its own process group on a free loopback port, on
    this run's database and broker (``--workers``: the service is then not in this process)."""

    def __init__(self, settings: Any, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self.port = free_port()
        self.proc: Any = None

    async def __aenter__(self) -> str:
        import subprocess
        import sys

        from shared.testing.services import service_env

        env = service_env(self.settings, "intake", self.port)
        env["CARELOOP_RELAY_POLL_INTERVAL_S"] = str(self.settings.relay_poll_interval_s)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve", "intake", "--workers", str(self.workers),
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        ready = 0
        async with httpx.AsyncClient() as client:
            while ready < 2 * self.workers:  # every worker started (or nearly): several answers in a row
                if self.proc.poll() is not None:
                    raise RuntimeError(f"careloop serve intake exited with code {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("careloop serve intake was not ready within 120 s")
                try:
                    ok = (await client.get(f"{url}/health/ready", timeout=2)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                ready = ready + 1 if ok else 0
                await asyncio.sleep(0.2 if ok else 0.5)
        return url

    async def __aexit__(self, *exc: object) -> None:
        import signal
        import subprocess

        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def http_stack(workers: int) -> str:
    """What serves the requests, as ``careloop serve`` configures uvicorn ("auto")."""
    import importlib.util

    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    where = (f"{workers} worker processes (careloop serve intake --workers {workers})" if workers > 1
             else "one process, in this one")
    return f"uvicorn + {parser} on {loop}, {where}"


async def bare_asgi(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Reads the body and answers 201: no framework, no database."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"created":true}'
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def caller_headers() -> dict[str, str]:
    """A bearer token for the test issuer that ``fresh_settings`` pins (minted here: the sender
    process has no key of its own)."""
    try:
        from shared.testing.auth import operator_headers
    except ImportError:  # a tree without authentication
        return {}
    return dict(operator_headers())


# --- (a) HTTP ----------------------------------------------------------------------------------


async def bench_http(infra: Any, args: argparse.Namespace, senders: ProcessPoolExecutor) -> dict[str, Figure]:
    from services.intake.app import create_app

    settings = await fresh_settings(infra)
    loop = asyncio.get_running_loop()
    pool_size = settings.db.pool_size + settings.db.max_overflow
    figures: dict[str, Figure] = {}

    async def drive(url: str, *, mode: str, first: int, count: int, connections: int, rate: float = 0,
                    warmup: int = 0, client: str = args.client) -> dict[str, Any]:
        spec = {"url": url, "path": "/api/v1/feedback", "mode": mode, "first": first, "count": count,
                "connections": connections, "rate": rate, "warmup": warmup, "projects": args.projects,
                "client": client, "headers": caller_headers()}
        return await loop.run_in_executor(senders, run_senders, spec)

    def figure(label: str, result: dict[str, Any], note: str = "") -> Figure:
        accepted = result["statuses"].get(201, 0)
        other = {k: v for k, v in result["statuses"].items() if k != 201}
        if other:
            note = f"{note} other answers: {other}".strip()
        if result["max_send_lateness"] > 0.005:
            note = f"{note} senders fell up to {result['max_send_lateness'] * 1000:.0f} ms behind".strip()
        return Figure(label, accepted, result["elapsed"], result["latencies"], note)

    workers = f", {args.workers} worker processes" if args.workers > 1 else ""
    app = create_app(settings) if args.workers == 1 else None
    service = ServeProcess(settings, args.workers) if app is None else Uvicorn(app)
    writer = app.state.feedback_writer if app is not None else None

    def transactions(since: tuple[int, int, int, float]) -> str:
        """What the group commit did since ``since`` (in this process only)."""
        if writer is None:
            return ""
        batches, items, fallbacks, busy = (writer.batches - since[0], writer.items - since[1],
                                           writer.fallbacks - since[2], writer.busy_s - since[3])
        longest, writer.longest_s = writer.longest_s, 0.0
        return (f"group commit: {items / max(batches, 1):.1f} submissions per transaction on average "
                f"({batches:,} transactions, {1000 * busy / max(batches, 1):.1f} ms each, longest "
                f"{1000 * longest:.0f} ms, {fallbacks} fell back)")

    def counters() -> tuple[int, int, int, float]:
        if writer is None:
            return (0, 0, 0, 0.0)
        writer.longest_s = 0.0
        return (writer.batches, writer.items, writer.fallbacks, writer.busy_s)

    async with service as url:
        separate = isinstance(service, ServeProcess)
        meter = CpuMeter({"intake": service.proc.pid}, own=None) if separate else CpuMeter(own="intake")
        since = counters()
        result = await drive(url, mode="closed", first=10_000_000, count=args.http, connections=args.senders,
                             warmup=args.warmup)
        figures["closed"] = figure(f"intake{workers}, closed loop, {args.senders} senders", result,
                                   transactions(since))
        used, requests = meter.used(), args.warmup + args.http
        figures["closed_cpu"] = CpuFigure(used["intake"], requests,
                                          "the service's processes" if separate else "the service's process (this one)")
        figures["closed_budget"] = cpu_budget(used, requests, target_rate=TARGET_HTTP_RATE, what="request")
        since = counters()
        result = await drive(url, mode="open", first=20_000_000, count=args.open_requests, connections=256,
                             rate=args.open_rate, warmup=args.warmup)
        figures["open"] = figure(f"intake{workers}, open loop at {args.open_rate:,.0f}/s offered", result,
                                 transactions(since))
        if args.profile and args.workers == 1:
            with Profile(areas=14) as profile:
                await drive(url, mode="closed", first=30_000_000, count=min(args.http, 2000),
                            connections=args.senders)
            figures["profile"] = profile  # type: ignore[assignment]

    # Floors: the same rows, bare asyncpg, one INSERT (its own transaction) per request.
    import asyncpg

    dsn = settings.db.admin_url.replace("postgresql+asyncpg://", "postgresql://")
    async with asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size) as pool:

        async def insert(i: int, since: float, latencies: list[float]) -> None:
            async with pool.acquire() as conn:
                await conn.execute(FLOOR_INSERT, *floor_row(submission(i, projects=args.projects)))
            latencies.append(time.perf_counter() - since)

        for i in range(args.warmup):
            await insert(40_000_000 + i, time.perf_counter(), [])
        latencies: list[float] = []
        pending = iter(range(args.http))

        async def worker() -> None:
            for i in pending:
                await insert(i, time.perf_counter(), latencies)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.senders)))
        figures["floor_closed"] = Figure(f"floor: asyncpg INSERT per request, {args.senders} workers, pool {pool_size}",
                                         len(latencies), time.perf_counter() - started, latencies)

        latencies = []
        tasks = []
        started = time.perf_counter()
        for n in range(args.open_requests):
            due = started + n / args.open_rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(insert(50_000_000 + n, due, latencies)))
        await asyncio.gather(*tasks)
        figures["floor_open"] = Figure(f"floor: asyncpg INSERT at {args.open_rate:,.0f}/s offered", len(latencies),
                                       time.perf_counter() - started, latencies)

    async with Uvicorn(bare_asgi) as url:
        result = await drive(url, mode="closed", first=60_000_000, count=args.http, connections=args.senders,
                             warmup=args.warmup)
        figures["rig"] = figure(f"reference: bare ASGI app answering 201, {args.client} senders", result)
        if args.client != "httpx":
            result = await drive(url, mode="closed", first=70_000_000, count=min(args.http, 2000),
                                 connections=args.senders, warmup=args.warmup, client="httpx")
            figures["rig_httpx"] = figure("reference: the same with httpx.AsyncClient senders", result)
    return figures


# --- (b) the inbound topic ---------------------------------------------------------------------


class Commits:
    """Which submissions a consumer has committed, and when (time.perf_counter())."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.first_seen: float | None = None
        self.committed: dict[str, float] = {}
        self.done = asyncio.Event()

    def seen(self) -> None:
        if self.first_seen is None:
            self.first_seen = time.perf_counter()

    def commit(self, external_ids: list[str]) -> None:
        now = time.perf_counter()
        for external_id in external_ids:
            self.committed.setdefault(external_id, now)
        if len(self.committed) >= self.expected:
            self.done.set()

    async def wait(self, timeout: float, what: str) -> None:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except TimeoutError:
            raise SystemExit(f"{what}: only {len(self.committed)} of {self.expected} committed within {timeout:.0f} s")

    def drain_figure(self, label: str) -> Figure:
        assert self.first_seen is not None
        return Figure(label, len(self.committed), max(self.committed.values()) - self.first_seen)

    def latency_figure(self, label: str, due: dict[str, float], started: float) -> Figure:
        latencies = [self.committed[k] - t for k, t in due.items() if k in self.committed]
        return Figure(label, len(latencies), max(self.committed[k] for k in due) - started, latencies)


#: What the submissions on the inbound topic are keyed by (``--key``): the sender's own id for
#: each, or the project (one project's submissions in one partition, so replicas of intake take
#: disjoint sets of projects and never wait for each other's project locks).
KEYS: dict[str, Callable[[dict[str, Any]], str]] = {
    "external-id": lambda body: str(body["external_id"]),
    "project": lambda body: str(body.get("project_id") or body["org"].get("project") or body["external_id"]),
}
key_of = KEYS["external-id"]


async def produce(
    settings: Any, topic: str, bodies: list[dict[str, Any]], *, rate: float | None = None
) -> dict[str, float]:
    """Publish the submissions as a call centre would, keyed by ``key_of``; at ``rate``/s (open
    loop) or all at once. Returns when each was due (perf_counter), by external id."""
    from aiokafka import AIOKafkaProducer

    from shared.messaging.kafka import bootstrap

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), acks="all", linger_ms=2,
                                enable_idempotence=False)
    await producer.start()
    due: dict[str, float] = {}
    try:
        futures = []
        started = time.perf_counter()
        for n, body in enumerate(bodies):
            when = started + n / rate if rate else time.perf_counter()
            if rate and (delay := when - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            due[body["external_id"]] = when
            futures.append(await producer.send(f"{settings.topic_prefix}{topic}", json.dumps(body).encode(),
                                               key=key_of(body).encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return due


class FloorPipeline:
    """Bare aiokafka consumption, optionally with bare asyncpg batched INSERTs and offset commits."""

    def __init__(self, settings: Any, topic: str, *, group: str, insert: bool) -> None:
        self.settings, self.topic, self.group, self.insert = settings, topic, group, insert
        self.commits: Commits | None = None
        self.stopping = False

    async def run(self) -> None:
        import asyncpg
        from aiokafka import AIOKafkaConsumer

        from shared.messaging.kafka import bootstrap

        consumer = AIOKafkaConsumer(f"{self.settings.topic_prefix}{self.topic}",
                                    bootstrap_servers=bootstrap(self.settings),
                                    group_id=f"{self.settings.topic_prefix}{self.group}", enable_auto_commit=False,
                                    auto_offset_reset="earliest",
                                    # as the service's consumer waits for its fetches
                                    fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms)
        conn = await asyncpg.connect(self.settings.db.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        await consumer.start()
        try:
            while not self.stopping:
                batches = await consumer.getmany(timeout_ms=200, max_records=self.settings.consumer_batch_size)
                records = [r for rs in batches.values() for r in rs]
                if not records or self.commits is None:
                    continue
                self.commits.seen()
                if self.insert:
                    bodies = [json.loads(r.value) for r in records]
                    async with conn.transaction():
                        await conn.executemany(FLOOR_INSERT, [floor_row(b) for b in bodies])
                    await consumer.commit()
                    self.commits.commit([b["external_id"] for b in bodies])
                else:
                    self.commits.commit([f"{r.partition}:{r.offset}" for r in records])  # each record once
        finally:
            await consumer.stop()
            await conn.close()


async def bench_inbound(infra: Any, args: argparse.Namespace) -> dict[str, Any]:
    from asgi_lifespan import LifespanManager

    from services.intake.app import create_app
    from shared.messaging.kafka import ensure_topics
    from shared.topics import INBOUND_FEEDBACK

    settings = await fresh_settings(infra)
    figures: dict[str, Any] = {}
    backlog = [submission(i, projects=args.projects, inbound=True, run="backlog") for i in range(args.inbound)]
    started = time.perf_counter()
    await produce(settings, INBOUND_FEEDBACK, backlog)
    figures["produced"] = Figure("(backlog produced with bare aiokafka)", len(backlog), time.perf_counter() - started)
    timeout = max(300.0, args.inbound / 50)  # bounded: a stuck consumer ends the run

    async def drain_floor(label: str, *, group: str, insert: bool) -> None:
        await truncate_floor(settings)
        pipeline = FloorPipeline(settings, INBOUND_FEEDBACK, group=group, insert=insert)
        pipeline.commits = drain = Commits(len(backlog))
        task = asyncio.create_task(pipeline.run())
        meter = CpuMeter(own="this process (the floor)")
        await drain.wait(timeout, label)
        figures[f"floor_{group}"] = drain.drain_figure(label)
        figures[f"floor_{group}_budget"] = cpu_budget(meter.used(), len(backlog), target_rate=TARGET_INBOUND_RATE,
                                                      what="submission")
        pipeline.stopping = True
        await task

    async def paced_floor() -> None:
        # On a topic of its own, so that the service later finds only the backlog on inbound.feedback.
        topic = "bench.floor-open"
        await ensure_topics(settings, [f"{settings.topic_prefix}{topic}"])
        await truncate_floor(settings)
        pipeline = FloorPipeline(settings, topic, group="floor-open", insert=True)
        warm = [submission(i, projects=args.projects, inbound=True, run="floor-warm") for i in range(20)]
        pipeline.commits = joined = Commits(len(warm))
        task = asyncio.create_task(pipeline.run())
        await produce(settings, topic, warm)
        await joined.wait(timeout, "floor pipeline (joining)")
        tail = [submission(i, projects=args.projects, inbound=True, run="floor-open")
                for i in range(args.topic_requests)]
        pipeline.commits = paced = Commits(len(tail))
        started = time.perf_counter()
        due = await produce(settings, topic, tail, rate=args.topic_rate)
        await paced.wait(timeout, "floor pipeline (open loop)")
        figures["floor_open"] = paced.latency_figure(f"floor pipeline at {args.topic_rate:,.0f}/s offered", due,
                                                     started)
        pipeline.stopping = True
        await task

    await drain_floor("floor: bare aiokafka consume", group="consume", insert=False)
    # The batched-insert floor on its own, without Kafka: same rows, same batch size.
    await truncate_floor(settings)
    conn = await _admin(settings)
    try:
        rows = [floor_row(b) for b in backlog]
        batch = settings.consumer_batch_size
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.executemany(FLOOR_INSERT, rows[i:i + batch])
        figures["floor_insert"] = Figure(f"floor: bare asyncpg INSERTs, {batch} per transaction", len(rows),
                                         time.perf_counter() - started)
    finally:
        await conn.close()
    await drain_floor("floor: consume → insert → commit offsets (the floor)", group="pipeline", insert=True)
    if args.workers == 1:  # the open loop (and so its floor) runs only with the service in this process
        await paced_floor()

    if args.workers > 1:
        await drain_in_replicas(settings, args, figures, expected=len(backlog), timeout=timeout)
        return figures

    app = create_app(settings)
    runtime = app.state.runtime
    [consumer] = runtime.consumers
    commits = Commits(len(backlog))
    taken: list[str] = []
    handle = consumer.handlers["FeedbackSubmission"]
    handle_batch = consumer.batch_handlers.get("FeedbackSubmission")

    async def observed(message: Any, uow: Any) -> None:
        commits.seen()
        await handle(message, uow)
        taken.append(message.external_id)

    async def observed_batch(messages: Any, uow: Any) -> None:
        commits.seen()
        assert handle_batch is not None
        await handle_batch(messages, uow)
        taken.extend(message.external_id for message in messages)

    def committed() -> None:
        commits.commit(taken)
        taken.clear()

    # Observation only: the handler is wrapped to note which submissions a transaction took, and
    # the unit of work's after-commit hook (the relay's wake-up call) says when it committed.
    consumer.handlers["FeedbackSubmission"] = observed
    if handle_batch is not None:
        consumer.batch_handlers["FeedbackSubmission"] = observed_batch
    runtime.uow_factory.on_outbox_write(committed)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        meter = CpuMeter(own="intake (this process)")
        await commits.wait(timeout, "intake inbound consumer")
        used = meter.used()
        figures["drain_budget"] = cpu_budget(used, len(backlog), target_rate=TARGET_INBOUND_RATE, what="submission")
        figures["drain"] = commits.drain_figure("intake inbound consumer, backlog drained")
        figures["drain_cpu"] = CpuFigure(used["intake (this process)"], len(backlog),
                                         "the service's process (this one: consumer and outbox relay)")
        failed = consumer.dead_lettered
        tail = [submission(i, projects=args.projects, inbound=True, run="open") for i in range(args.topic_requests)]
        commits = Commits(len(tail))
        paced_started = time.perf_counter()
        due = await produce(settings, INBOUND_FEEDBACK, tail, rate=args.topic_rate)
        await commits.wait(timeout, "intake inbound consumer (open loop)")
        figures["open"] = commits.latency_figure(f"intake inbound consumer at {args.topic_rate:,.0f}/s offered", due,
                                                 paced_started)
        if args.profile:
            extra = [submission(i, projects=args.projects, inbound=True, run="profile")
                     for i in range(min(args.inbound, 5000))]
            commits = Commits(len(extra))
            with Profile(areas=14) as profile:  # the producer runs in this process too: a small share of aiokafka
                await produce(settings, INBOUND_FEEDBACK, extra)
                await commits.wait(timeout, "intake inbound consumer (profiled)")
            figures["profile"] = profile
    figures["dead_lettered"] = failed + consumer.dead_lettered
    return figures


async def drain_in_replicas(settings: Any, args: argparse.Namespace, figures: dict[str, Any], *, expected: int,
                            timeout: float) -> None:
    """``--workers N``: the backlog drained by ``careloop serve intake --workers N`` (N replicas in
    intake's consumer group, sharing the topic's partitions), timed by watching intake's table:
    from the first recorded submission to the last (the first batch's own time is not counted, as
    in-process the drain is counted from the first batch handed to the handler). CPU is metered
    over the same stretch, so the replicas' start-up is left out."""
    conn = await _admin(settings)
    service = ServeProcess(settings, args.workers)
    meter: CpuMeter | None = None
    first = last = 0.0

    async def watch() -> None:
        nonlocal meter, first, last
        while True:
            count = await conn.fetchval("SELECT count(*) FROM intake.feedback")
            now = time.perf_counter()
            if count and meter is None and service.proc is not None:
                meter, first = CpuMeter({"intake": service.proc.pid}, own=None), now
            if count >= expected:
                last = now
                return
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        async with service:
            await asyncio.wait_for(watcher, timeout)
            assert meter is not None
            used = meter.used()
    finally:
        watcher.cancel()
        await conn.close()
    label = f"intake inbound consumer, {args.workers} replicas (careloop serve --workers {args.workers}), backlog drained"
    figures["drain"] = Figure(label, expected, last - first)
    figures["drain_cpu"] = CpuFigure(used["intake"], expected, f"the {args.workers} replicas' processes")
    figures["drain_budget"] = cpu_budget(used, expected, target_rate=TARGET_INBOUND_RATE, what="submission")
    figures["dead_lettered"] = 0  # every one of the backlog was recorded: none went to the dead-letter topic


# --- main --------------------------------------------------------------------------------------


def ratio(figure: Figure, floor: Figure) -> str:
    return f"{figure.rate / floor.rate:.2f} of the floor's rate" if floor.rate else "-"


async def main(args: argparse.Namespace) -> None:
    global key_of
    key_of = KEYS[args.key]
    import logging
    import warnings

    from shared.logging import configure_logging
    from shared.testing.infra import provide_infrastructure

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    configure_logging("intake", "WARNING")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    print(f"CareLoop intake benchmark  ({os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.machine()})")
    print(f"workload: complaints, repair requests, inquiries…, Chinese text, {args.projects} projects, "
          "no contact details, no Idempotency-Key")
    senders = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    try:
        with provide_infrastructure() as infra:
            print(f"infrastructure: {infra.kind} (broker {infra.bootstrap_servers}); {load()}")
            await asyncio.get_running_loop().run_in_executor(senders, time.sleep, 0)  # start the sender process
            if not args.skip_http:
                http = await bench_http(infra, args, senders)
                header(f"(a) HTTP POST /api/v1/feedback ({http_stack(args.workers)}; loopback; {args.client} "
                       f"senders in another process); after it: {load()}")
                for key in ("closed", "floor_closed"):
                    print(http[key].line())
                print(f"  ratio: {ratio(http['closed'], http['floor_closed'])}")
                print(http["closed_cpu"].line())
                print(f"  everything on this machine but the senders: {http['closed_budget']}")
                print(f"  target >= {TARGET_HTTP_RATE:,}/s: {verdict(http['closed'].rate >= TARGET_HTTP_RATE)} "
                      f"({http['closed'].rate:,.0f}/s)")
                for key in ("open", "floor_open"):
                    print(http[key].line())
                print(f"  p99 ratio: {http['open'].p99 / http['floor_open'].p99:.1f}x the floor's p99")
                print(f"  target p99 < {TARGET_HTTP_P99_MS} ms at {TARGET_OPEN_RATE}/s: "
                      f"{verdict(http['open'].p99 < TARGET_HTTP_P99_MS and args.open_rate >= TARGET_OPEN_RATE)} "
                      f"({http['open'].p99:.1f} ms at {args.open_rate:,.0f}/s)")
                print(http["rig"].line())
                if "rig_httpx" in http:
                    print(http["rig_httpx"].line())
                if "profile" in http:
                    http["profile"].report(f"intake serving a closed loop of {min(args.http, 2000):,} requests")
            if not args.skip_inbound:
                inbound = await bench_inbound(infra, args)
                header(f"(b) inbound topic inbound.feedback (keyed by {args.key}; a backlog of {args.inbound:,}, "
                       "then an open loop); "
                       f"after it: {load()}")
                for key in ("drain", "floor_pipeline", "floor_consume", "floor_insert"):
                    print(inbound[key].line())
                print(f"  ratio: {ratio(inbound['drain'], inbound['floor_pipeline'])}")
                print(inbound["drain_cpu"].line())
                print(f"  intake, everything on this machine: {inbound['drain_budget']}")
                print(f"  the floor, everything on this machine: {inbound['floor_pipeline_budget']}")
                print(f"  target >= {TARGET_INBOUND_RATE:,}/s: "
                      f"{verdict(inbound['drain'].rate >= TARGET_INBOUND_RATE)} ({inbound['drain'].rate:,.0f}/s)")
                if "open" in inbound:  # in this process only
                    for key in ("open", "floor_open"):
                        print(inbound[key].line())
                    print(f"  p99 ratio: {inbound['open'].p99 / inbound['floor_open'].p99:.1f}x the floor's p99")
                print(inbound["produced"].line())
                if inbound["dead_lettered"]:
                    print(f"  !! {inbound['dead_lettered']} submissions were dead-lettered")
                if "profile" in inbound:
                    inbound["profile"].report("intake draining a backlog of inbound submissions")
    finally:
        senders.shutdown()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", type=int, default=5_000, help="closed-loop HTTP submissions (default 5000)")
    parser.add_argument("--senders", type=int, default=64, help="concurrent HTTP senders / connections (default 64)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="HTTP senders: a minimal keep-alive client (default) or httpx.AsyncClient")
    parser.add_argument("--open-rate", type=float, default=TARGET_OPEN_RATE, help="open-loop HTTP rate per second")
    parser.add_argument("--open-requests", type=int, default=4_000, help="open-loop HTTP submissions (default 4000)")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests before each HTTP run")
    parser.add_argument("--inbound", type=int, default=20_000, help="inbound backlog to drain (default 20000)")
    parser.add_argument("--topic-rate", type=float, default=1_000, help="open-loop inbound rate per second")
    parser.add_argument("--topic-requests", type=int, default=5_000, help="open-loop inbound submissions")
    parser.add_argument("--projects", type=int, default=200, help="projects the submissions are spread over")
    parser.add_argument("--workers", type=int, default=1,
                        help="serve intake as `careloop serve intake --workers N` in its own processes (default 1: "
                             "in this process, as one replica)")
    parser.add_argument("--key", choices=sorted(KEYS), default="external-id",
                        help="what inbound submissions are keyed by (default: the sender's external id)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-inbound", action="store_true")
    parser.add_argument("--profile", action="store_true", help="add a cProfile look after the measured runs")
    return parser.parse_args(argv)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as ``careloop serve`` runs the service (uvicorn's "auto")."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main(parse_args()))
