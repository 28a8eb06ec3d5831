#!/usr/bin/env python
"""The pipeline, end to end: feedback on ``inbound.feedback`` → intake → ``feedback.received`` →
routing → ``case.*`` → reporting, each service its own process (``careloop serve``), beside a
transport floor measured in the same run on the same broker and database.

Figures:
* sustained throughput: ``--count`` submissions offered at once (as fast as one producer sends
  them); the rate is from the first submission to the moment the last case is visible in
  reporting's view (``reporting.case_facts`` with its feedback id);
* latency: ``--open-count`` submissions offered at ``--rate``/s (open loop, whatever the pipeline
  does), from each one's send to the moment its case became visible in reporting's view: a poller
  reads a stamp table that a trigger on ``reporting.case_facts`` fills, every 20 ms, so latencies
  are as seen by a reader (commit visibility), to within 20 ms;
* floor: three bare hops, each its own process — aiokafka consume → asyncpg batch INSERT in one
  transaction → aiokafka produce of one record per row → commit offsets — over the same three hops,
  the same payloads, the same batch size, no business logic; measured the same way;
* CPU budget, for the sustained run and the floor's: the CPU each process spent per feedback (the
  services or hops, PostgreSQL's backends and the broker when they run on this machine, the bench
  itself), what that allows on this machine's cores, and what the same processes use with nothing
  to do (measured for 3 s before the run: the consumers' fetches, a cost that does not grow with load).

The ratio (pipeline ÷ floor) is what counts on a shared, noisy machine. Targets (2-core machine):
≥ 2,000 feedback/s sustained, ≥ 40 % of the floor, p99 < 500 ms at 500 feedback/s offered.

Infrastructure as the tests choose it (``shared.testing.infra``): embedded Tansu and PostgreSQL by
default, an external broker when ``CARELOOP_KAFKA_BOOTSTRAP_SERVERS`` names one (e.g. Apache Kafka), a
database when ``CARELOOP_TEST_DB_ADMIN_URL`` names one.

    .venv/bin/python bench/pipeline_bench.py [--count 5000] [--open-count 5000 --rate 500] [--replicas routing=2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import CpuMeter, broker_tree, cpu_budget, idle_cores  # noqa: E402  (the script's own folder)

TARGET_RATE = 2_000
TARGET_RATIO = 0.40
TARGET_P99_MS = 500
TEXTS = ("卫生间吊顶渗水，楼上住户也说过", "电梯经常停在12楼不动", "地下车库照明不足，晚上看不清",
         "外墙瓷砖脱落，差点砸到人", "客服人员态度恶劣，电话挂断", "施工噪音太大，晚上十点还在干活",
         "入户门变形关不严", "交房时间一再推迟，合同约定的日期已过")
KINDS = ("complaint", "complaint", "repair_request", "suggestion", "complaint", "inquiry")
BATCH = 200
PIPELINE = ("intake", "routing", "reporting")  # the services a submission passes through, in order

STAMPS = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.arrivals (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, feedback_id uuid NOT NULL);
CREATE FUNCTION bench.stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF NEW.feedback_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.feedback_id IS NULL) THEN
    INSERT INTO bench.arrivals (feedback_id) VALUES (NEW.feedback_id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_stamp AFTER INSERT OR UPDATE OF feedback_id ON reporting.case_facts
  FOR EACH ROW EXECUTE FUNCTION bench.stamp();
CREATE TABLE bench.floor_feedback (id uuid PRIMARY KEY, external_id text, body jsonb, at timestamptz DEFAULT now());
CREATE TABLE bench.floor_cases (id uuid PRIMARY KEY, feedback_id uuid, at timestamptz DEFAULT now());
CREATE TABLE bench.floor_facts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, case_id uuid,
                                feedback_id uuid NOT NULL, at timestamptz DEFAULT now());
"""


def submission(i: int, run: str) -> tuple[bytes, bytes]:
    external_id = f"{run}-{i}"
    body = {
        "message_type": "FeedbackSubmission", "schema_version": 1, "source_system": "callcentre",
        "external_id": external_id, "kind": KINDS[i % len(KINDS)], "channel": "phone",
        "text": f"{TEXTS[i % len(TEXTS)]}（第{i}条）", "received_at": datetime.now(UTC).isoformat(),
        "org": {"group": "hx", "subsidiary": "east", "project": f"P{i % 20:03d}"}, "project_id": f"P{i % 20:03d}",
        "unit": f"{i % 30 + 1}-{i % 4 + 1}-{(i // 7) % 30 + 101}",
    }
    return external_id.encode(), json.dumps(body, ensure_ascii=False).encode()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# --- the floor: one bare hop, run as its own process ----------------------------------------------


async def floor_hop(spec: dict[str, Any]) -> None:
    """consume → one INSERT of the batch in a transaction → produce one record per row → commit."""
    import asyncpg
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    hop = spec["hop"]
    consumer = AIOKafkaConsumer(spec["source"], bootstrap_servers=spec["bootstrap"], group_id=spec["group"],
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=spec["fetch_max_wait_ms"])
    producer = AIOKafkaProducer(bootstrap_servers=spec["bootstrap"], acks="all", enable_idempotence=False,
                                linger_ms=2)
    pool = await asyncpg.create_pool(spec["db"], min_size=1, max_size=2)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            for records in batches.values():
                if not records:
                    continue
                out: list[tuple[bytes | None, bytes]] = []
                async with pool.acquire() as conn, conn.transaction():
                    if hop == 1:
                        rows = []
                        for r in records:
                            body = json.loads(r.value)
                            fid = uuid.uuid5(uuid.NAMESPACE_URL, body["external_id"])
                            rows.append((fid, body["external_id"], r.value.decode()))
                            out.append((str(fid).encode(), json.dumps({"feedback_id": str(fid)}).encode()))
                        await conn.executemany("INSERT INTO bench.floor_feedback (id, external_id, body) "
                                               "VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING", rows)
                    elif hop == 2:
                        rows = []
                        for r in records:
                            fid = uuid.UUID(json.loads(r.value)["feedback_id"])
                            cid = uuid.uuid5(fid, "case")
                            rows.append((cid, fid))
                            out.append((str(cid).encode(),
                                        json.dumps({"case_id": str(cid), "feedback_id": str(fid)}).encode()))
                        await conn.executemany("INSERT INTO bench.floor_cases (id, feedback_id) VALUES ($1, $2) "
                                               "ON CONFLICT DO NOTHING", rows)
                    else:
                        rows = [(uuid.UUID(e["case_id"]), uuid.UUID(e["feedback_id"]))
                                for e in (json.loads(r.value) for r in records)]
                        await conn.executemany("INSERT INTO bench.floor_facts (case_id, feedback_id) VALUES ($1, $2)",
                                               rows)
                if spec.get("target"):
                    sends = [await producer.send(spec["target"], value=v, key=k) for k, v in out]
                    await asyncio.gather(*sends)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()


# --- measuring -----------------------------------------------------------------------------------


class Arrivals:
    """Polls a stamp table (``id`` identity, ``feedback_id``) every 20 ms; notes when each row was seen."""

    def __init__(self, db: str, table: str) -> None:
        self.db, self.table = db, table
        self.seen: dict[str, float] = {}
        self._ids: set[int] = set()
        self._low = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.db)
        try:
            while True:
                rows = await conn.fetch(f"SELECT id, feedback_id FROM {self.table} WHERE id > $1", self._low)
                now = time.time()
                for row in rows:
                    if row["id"] not in self._ids:
                        self._ids.add(row["id"])
                        self.seen.setdefault(str(row["feedback_id"]), now)
                while self._low + 1 in self._ids:  # rows committed later with lower ids are not missed
                    self._ids.discard(self._low + 1)
                    self._low += 1
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def offer(settings: Any, topic: str, records: list[tuple[bytes, bytes]], rate: float | None
                ) -> tuple[list[float], float]:
    """Send the records (at ``rate``/s if given); returns each one's send time and the max lateness."""
    from aiokafka import AIOKafkaProducer

    from shared.messaging.kafka import bootstrap

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), acks="all", enable_idempotence=False,
                                linger_ms=5)
    await producer.start()
    sent: list[float] = []
    lateness = 0.0
    try:
        started = time.time()
        pending = []
        for i, (key, value) in enumerate(records):
            if rate:
                due = started + i / rate
                if (delay := due - time.time()) > 0:
                    await asyncio.sleep(delay)
                lateness = max(lateness, time.time() - due)
                sent.append(due)  # latency counts from when it was due, so a slow sender hides nothing
            else:
                sent.append(time.time())
            pending.append(await producer.send(topic, value=value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, lateness


async def wait_arrivals(arrivals: Arrivals, ids: list[str], *, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    wanted = set(ids)
    while time.monotonic() < deadline:
        if wanted <= arrivals.seen.keys():
            break
        await asyncio.sleep(0.1)
    return len(wanted & arrivals.seen.keys())


class Result:
    def __init__(self, label: str, count: int, arrived: int, elapsed: float, latencies: list[float],
                 note: str = "") -> None:
        self.label, self.count, self.arrived, self.elapsed = label, count, arrived, elapsed
        self.rate = arrived / elapsed if elapsed > 0 else float("nan")
        self.p50 = percentile(latencies, 50) * 1000
        self.p99 = percentile(latencies, 99) * 1000
        self.note = note

    def line(self) -> str:
        line = (f"  {self.label:<52} {self.rate:9,.0f} {self.p50:9,.0f} {self.p99:9,.0f}  "
                f"{self.arrived}/{self.count} arrived")
        return f"{line}\n      {self.note}" if self.note else line


async def measure(settings: Any, *, topic: str, arrivals: Arrivals, run: str, count: int, rate: float | None,
                  label: str, timeout: float) -> Result:
    records = [submission(i, run) for i in range(count)]
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, k.decode())) for k, _ in records]
    sent, lateness = await offer(settings, topic, records, rate)
    got = await wait_arrivals(arrivals, [i for i in ids], timeout=timeout)
    latencies = [arrivals.seen[i] - t for i, t in zip(ids, sent, strict=True) if i in arrivals.seen]
    last = max((arrivals.seen[i] for i in ids if i in arrivals.seen), default=sent[0])
    note = f"(sender at most {lateness * 1000:.0f} ms late)" if rate else ""
    return Result(label, count, got, last - sent[0], latencies, note)


# --- the pipeline --------------------------------------------------------------------------------


async def start_service(settings: Any, service: str, workers: int = 1) -> subprocess.Popen[bytes]:
    import httpx

    from shared.devstack import free_port
    from shared.testing.services import service_env

    port = free_port()
    env = service_env(settings, service, port)
    env["CARELOOP_RELAY_POLL_INTERVAL_S"] = "0.2"  # the service's default, not the tests' quick one
    command = [sys.executable, "-m", "shared.cli", "serve", service] + (["--workers", str(workers)] if workers > 1 else [])
    proc = subprocess.Popen(command, env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{service} exited with code {proc.returncode}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{service} was not ready in time")


def replica_counts(specs: list[str]) -> dict[str, int]:
    """``--replicas routing=2`` → {"routing": 2}: ``careloop serve routing --workers 2``, two replicas in
    one consumer group, as an operator scales a service."""
    counts = {}
    for spec in specs:
        service, _, n = spec.partition("=")
        if service not in PIPELINE or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"--replicas wants service=N (intake, routing or reporting), not {spec!r}")
        counts[service] = int(n)
    return counts


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def bench(args: argparse.Namespace) -> None:
    import asyncpg

    from shared.messaging.kafka import ensure_topics
    from shared.settings import DatabaseSettings, KafkaSettings
    from shared.testing.infra import (
        create_database,
        drop_database,
        provide_infrastructure,
        test_settings,
    )
    from shared.testing.services import migrate
    from shared.topics import INBOUND_FEEDBACK

    with provide_infrastructure() as infra:
        url = await create_database(infra.admin_url)
        settings = test_settings(infra, database_url=url, db=DatabaseSettings(admin_url=url),
                                 kafka=KafkaSettings(bootstrap_servers=infra.bootstrap_servers, partitions=6,
                                                     idempotent_producer=infra.kind != "embedded"))
        await migrate(settings, list(PIPELINE))
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute(STAMPS)
        finally:
            await conn.close()
        prefix = settings.topic_prefix
        floor_topics = [f"{prefix}floor.inbound", f"{prefix}floor.hop2", f"{prefix}floor.hop3"]
        await ensure_topics(settings, floor_topics)
        print(f"pipeline bench on {platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}; broker {infra.kind} ({infra.bootstrap_servers}); "
              f"consumers' fetch wait {settings.consumer_fetch_max_wait_ms} ms (services and floor)")
        print(f"  {broker_tree(infra.bootstrap_servers)[1]}")
        results: list[Result] = []
        try:
            # --- CareLoop: intake, routing, reporting as their own processes ---
            replicas = replica_counts(args.replicas)
            procs = [await start_service(settings, s, replicas.get(s, 1)) for s in PIPELINE]
            if any(n > 1 for n in replicas.values()):
                print("  replicas: " + ", ".join(f"{s} {replicas.get(s, 1)}" for s in PIPELINE))
            arrivals = Arrivals(plain(url), "bench.arrivals")
            arrivals.start()
            try:
                # intake's feedback ids are its own: map them back through intake.feedback
                results += await pipeline_phases(args, settings, arrivals, f"{prefix}{INBOUND_FEEDBACK}", url,
                                                 services=dict(zip(PIPELINE, procs, strict=True)))
            finally:
                await arrivals.stop()
                stop_all(procs)
            # --- the floor: three bare hops ---
            # the floor's consumers wait for fetches as the services' do (shared.devstack.FETCH_MAX_WAIT_MS)
            spec = {"bootstrap": infra.bootstrap_servers, "db": plain(url),
                    "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms}
            hops = [
                {"hop": 1, "source": floor_topics[0], "target": floor_topics[1], "group": f"{prefix}floor1"},
                {"hop": 2, "source": floor_topics[1], "target": floor_topics[2], "group": f"{prefix}floor2"},
                {"hop": 3, "source": floor_topics[2], "target": None, "group": f"{prefix}floor3"},
            ]
            floor_procs = [subprocess.Popen([sys.executable, __file__, "--floor-hop", json.dumps({**spec, **h})],
                                            cwd=ROOT, start_new_session=True) for h in hops]
            floor_arrivals = Arrivals(plain(url), "bench.floor_facts")
            floor_arrivals.start()
            try:
                await asyncio.sleep(3)  # the hops join their groups
                warm = await measure(settings, topic=floor_topics[0], arrivals=floor_arrivals, run="fw", count=200,
                                     rate=None, label="warm-up", timeout=60)
                del warm
                trees = {**{f"hop {h['hop']}": proc.pid for h, proc in zip(hops, floor_procs, strict=True)},
                         **broker_tree(infra.bootstrap_servers)[0]}
                await asyncio.sleep(1)
                idle = await idle_cores(trees)
                meter = CpuMeter(trees, own="this process (senders, arrival watch)")
                floor = await measure(settings, topic=floor_topics[0], arrivals=floor_arrivals,
                                      run=uuid.uuid4().hex[:6], count=args.count, rate=None,
                                      label="floor: 3 bare hops, offered at once", timeout=args.timeout)
                floor.note = cpu_budget(meter.used(), args.count, target_rate=TARGET_RATE, idle=idle,
                                        seconds=meter.seconds)
                results.append(floor)
                results.append(await measure(settings, topic=floor_topics[0], arrivals=floor_arrivals,
                                             run=uuid.uuid4().hex[:6], count=args.open_count, rate=args.rate,
                                             label=f"floor: 3 bare hops, {args.rate:g}/s offered",
                                             timeout=args.timeout))
            finally:
                await floor_arrivals.stop()
                stop_all(floor_procs)
        finally:
            await drop_database(infra.admin_url, url)
    report(args, results)


async def pipeline_phases(args: argparse.Namespace, settings: Any, arrivals: Arrivals, topic: str,
                          url: str, services: dict[str, subprocess.Popen[bytes]] | None = None) -> list[Result]:
    """The pipeline's figures. Intake names its feedback itself, so the arrivals' feedback ids are
    mapped to external ids through intake's table before they are matched with the sends."""
    import asyncpg

    class ByExternalId(Arrivals):
        def __init__(self, inner: Arrivals) -> None:
            self.inner = inner
            self.seen = {}

    mapped = ByExternalId(arrivals)

    async def remap() -> None:
        conn = await asyncpg.connect(plain(url))
        try:
            while True:
                fresh = [f for f in arrivals.seen if f not in known]
                if fresh:
                    rows = await conn.fetch("SELECT id, external_id FROM intake.feedback WHERE id = ANY($1::uuid[])",
                                            fresh)
                    for row in rows:
                        known.add(str(row["id"]))
                        ext = str(uuid.uuid5(uuid.NAMESPACE_URL, row["external_id"]))
                        mapped.seen[ext] = arrivals.seen[str(row["id"])]
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    known: set[str] = set()
    task = asyncio.create_task(remap())
    try:
        await measure(settings, topic=topic, arrivals=mapped, run="warm", count=200, rate=None, label="warm-up",
                      timeout=120)
        trees = {**{name: proc.pid for name, proc in (services or {}).items()},
                 **broker_tree(settings.kafka.bootstrap_servers or "")[0]}
        await asyncio.sleep(1)  # the warm-up's relays and commits settle
        idle = await idle_cores(trees)
        stages = asyncio.create_task(stage_times(url, target=200 + args.count))
        meter = CpuMeter(trees, own="this process (senders, arrival watch)")
        sustained = await measure(settings, topic=topic, arrivals=mapped, run=uuid.uuid4().hex[:6], count=args.count,
                                  rate=None, label="CareLoop: intake → routing → reporting, offered at once",
                                  timeout=args.timeout)
        stage_done = await stages
        cpu_used = meter.used()
        opened = await measure(settings, topic=topic, arrivals=mapped, run=uuid.uuid4().hex[:6],
                               count=args.open_count, rate=args.rate,
                               label=f"CareLoop: intake → routing → reporting, {args.rate:g}/s offered",
                               timeout=args.timeout)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    sustained.note = "; ".join(f"{stage} done at {t:.1f} s ({args.count / t:,.0f}/s)" if t else f"{stage} not done"
                               for stage, t in stage_done.items())
    if services:
        sustained.note += "\n      " + cpu_budget(cpu_used, args.count, target_rate=TARGET_RATE, idle=idle,
                                                   seconds=meter.seconds)
    return [sustained, opened]


async def stage_times(url: str, *, target: int, timeout: float = 900) -> dict[str, float | None]:
    """When each service had done every submission of the sustained run (seconds from its start):
    where the pipeline's time goes."""
    import asyncpg

    conn = await asyncpg.connect(plain(url))
    started = time.monotonic()
    done: dict[str, float | None] = {"intake": None, "routing": None, "reporting": None}
    try:
        while None in done.values() and time.monotonic() - started < timeout:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM intake.feedback) AS intake, (SELECT count(*) FROM routing.cases) AS "
                "routing, (SELECT count(*) FROM reporting.case_facts WHERE feedback_id IS NOT NULL) AS reporting")
            for stage in done:
                if done[stage] is None and row[stage] >= target:
                    done[stage] = time.monotonic() - started
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    return done


def report(args: argparse.Namespace, results: list[Result]) -> None:
    sustained, opened, floor, _floor_open = results
    one, five, _ = os.getloadavg()
    print(f"\n  {'':<52} {'feedback/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for result in results:
        print(result.line())
    ratio = sustained.rate / floor.rate if floor.rate else float("nan")
    print(f"\n  sustained end to end: {sustained.rate:,.0f}/s = {ratio:.0%} of the floor's {floor.rate:,.0f}/s")
    print(f"  target ≥ {TARGET_RATE:,}/s: {'MET' if sustained.rate >= TARGET_RATE else 'NOT MET'}; "
          f"≥ {TARGET_RATIO:.0%} of the floor: {'MET' if ratio >= TARGET_RATIO else 'NOT MET'}; "
          f"p99 < {TARGET_P99_MS} ms at {args.rate:g}/s offered: "
          f"{'MET' if opened.p99 < TARGET_P99_MS and opened.arrived == opened.count else 'NOT MET'} "
          f"(p99 {opened.p99:,.0f} ms, {opened.arrived}/{opened.count} arrived)")
    print(f"  machine: load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="submissions offered at once (sustained rate)")
    parser.add_argument("--open-count", type=int, default=5000, help="submissions offered at --rate (latency)")
    parser.add_argument("--rate", type=float, default=500, help="offered rate of the latency run, per second")
    parser.add_argument("--timeout", type=float, default=300, help="how long a run may take to arrive, seconds")
    parser.add_argument("--replicas", action="append", default=[], metavar="SERVICE=N",
                        help="run N replicas of a service (careloop serve SERVICE --workers N), e.g. routing=2")
    parser.add_argument("--floor-hop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_hop:
        asyncio.run(floor_hop(json.loads(args.floor_hop)))
        return
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
