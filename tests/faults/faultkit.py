"""The fault suite's tools: a workload on ``inbound.feedback``, service replicas run as their own
processes (with faults injected, see ``faulty_service.py``), and the checker that counts every
event's effects at the end of a scenario.

The checker reads each service's schema directly (the test is the auditor, not a service):

* intake: one feedback row per submitted message, one ``FeedbackReceived`` in its outbox;
* routing: one case per feedback, one ``CaseOpened``, one ``ComplaintClassified`` at most, one
  ``DeadlineBreached`` and one ``CaseEscalated`` per breached deadline, every deadline's due time
  equal to the one the business calendar gives for its start (recomputed here), the first response
  counted from the moment the feedback was received;
* reporting: one fact per case, its escalation count equal to routing's escalations, every
  deadline fact due when routing says;
* every outbox drained; the dead-letter topics holding exactly the bad records, each with a reason.

Lost and doubled effects are counted, printed, and must both be 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.routing.repairs.service import NOT_ON_WORK_ORDERS
from shared.messaging import dlq
from shared.devstack import free_port
from shared.messaging.kafka import bootstrap, topic_partitions
from shared.settings import Settings
from shared.testing.services import service_env
from shared.topics import INBOUND_FEEDBACK, all_topics, dead_letter

FAULTY_SERVICE = Path(__file__).with_name("faulty_service.py")
SOURCE = "callcentre"
ORGS = [("hx", "east", "lakeside"), ("hx", "east", "riverside"), ("hx", "south", "hillside")]
TEXTS = ("卫生间吊顶渗水，楼上住户也说过", "客服人员态度恶劣，电话挂断", "外墙瓷砖脱落，差点砸到人",
         "施工噪音太大，晚上十点还在干活", "入户门变形关不严", "交房时间一再推迟，合同约定的日期已过")


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Workload:
    """Complaints on ``inbound.feedback``: half received long ago (their first response is already
    overdue, so the deadline watcher breaches and escalates them), half received now."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    submitted: list[str] = field(default_factory=list)  # external ids, once each
    bad: dict[str, str] = field(default_factory=dict)  # key of a bad record -> why it is bad

    def message(self, i: int) -> tuple[bytes, bytes]:
        external_id = f"{self.run}-{i:05d}"
        group, subsidiary, project = ORGS[i % len(ORGS)]
        now = datetime.now(UTC)
        received_at = now - timedelta(days=20, minutes=i) if i % 2 else now
        body = {
            "message_type": "FeedbackSubmission", "schema_version": 1, "source_system": SOURCE,
            "external_id": external_id, "kind": "complaint", "channel": "phone",
            "text": f"{TEXTS[i % len(TEXTS)]}（第{i}条）", "received_at": received_at.isoformat(),
            "org": {"group": group, "subsidiary": subsidiary, "project": project},
        }
        return external_id.encode(), json.dumps(body, ensure_ascii=False).encode()

    def messages(self, first: int, count: int) -> list[tuple[bytes, bytes]]:
        out = [self.message(i) for i in range(first, first + count)]
        self.submitted.extend(key.decode() for key, _ in out)
        return out

    def poison(self, i: int) -> list[tuple[bytes, bytes]]:
        """Three bad records: not JSON, schema-invalid, and a source that is not allowed."""
        records = [
            (f"{self.run}-bad-json-{i}".encode(), b"\xff\xfe{ not json"),
            (f"{self.run}-bad-schema-{i}".encode(), json.dumps({
                "message_type": "FeedbackSubmission", "schema_version": 1, "source_system": SOURCE,
                "external_id": f"{self.run}-bad-schema-{i}", "kind": "complaint", "channel": "carrier-pigeon",
                "text": "", "org": {"group": "hx"}}).encode()),
            (f"{self.run}-bad-source-{i}".encode(), json.dumps({
                "message_type": "FeedbackSubmission", "schema_version": 1, "source_system": "unknown-system",
                "external_id": f"{self.run}-bad-source-{i}", "kind": "complaint", "channel": "phone",
                "text": "卫生间漏水", "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}}).encode()),
        ]
        self.bad.update({key.decode(): kind for key, kind in zip(
            (k for k, _ in records), ("schema-invalid", "schema-invalid", "rejected-source"), strict=True)})
        return records


async def produce(settings: Settings, records: list[tuple[bytes, bytes]], *, topic: str = INBOUND_FEEDBACK,
                  rate: float | None = None, gates: dict[int, asyncio.Event] | None = None) -> None:
    """Send records (key, value) as another system would, at ``rate`` per second if given. Before
    record ``i`` of ``gates``, wait for its event (then go on at the same rate): a scenario that
    must act while records are still to come holds the rest of the stream until it has acted,
    however slow a loaded machine makes it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all",
                                linger_ms=5, request_timeout_ms=120_000)
    await producer.start()
    try:
        started = time.monotonic()
        pending = []
        for i, (key, value) in enumerate(records):
            if gates and i in gates and not gates[i].is_set():
                held = time.monotonic()
                await gates[i].wait()
                started += time.monotonic() - held
            if rate and (delay := started + i / rate - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            pending.append(await producer.send(f"{settings.topic_prefix}{topic}", value=value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce_resending(settings: Settings, records: list[tuple[bytes, bytes]], *, rate: float,
                            topic: str = INBOUND_FEEDBACK, chunk: int = 10, timeout: float = 300) -> int:
    """Send records as a source system that survives a broker outage does: in chunks at ``rate`` per
    second, each chunk sent again (whatever of it the broker did not acknowledge) until it is, so a
    record may arrive twice (intake counts it once). Returns how many sends failed and were repeated."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all",
                                linger_ms=5, request_timeout_ms=4_000, retry_backoff_ms=200)
    await producer.start()
    resent = 0
    deadline = time.monotonic() + timeout
    try:
        started = time.monotonic()
        for first in range(0, len(records), chunk):
            if (delay := started + first / rate - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            waiting = records[first:first + chunk]
            while waiting:
                outcomes: list[Any] = []
                for key, value in waiting:
                    try:
                        outcomes.append(await producer.send(f"{settings.topic_prefix}{topic}", value=value, key=key))
                    except Exception as exc:  # no metadata, buffer full: the broker is away
                        outcomes.append(exc)
                acked = await asyncio.gather(*(o for o in outcomes if not isinstance(o, BaseException)),
                                             return_exceptions=True)
                results = iter(acked)
                failed = [record for record, o in zip(waiting, outcomes, strict=True)
                          if isinstance(o, BaseException) or isinstance(next(results), BaseException)]
                if failed:
                    resent += len(failed)
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{len(failed)} records were still refused after {timeout}s")
                    await asyncio.sleep(0.5)
                waiting = failed
    finally:
        await producer.stop()
    return resent


# --- replicas as processes ---------------------------------------------------------------------


@dataclass
class Replica:
    service: str
    port: int
    process: subprocess.Popen[bytes]
    faults: dict[str, str]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class Fleet:
    """Service replicas as operators run them (``careloop serve``), faults from the environment."""

    def __init__(self, settings: Settings, *, log_dir: Path) -> None:
        self.settings = settings
        self.replicas: list[Replica] = []
        self.kill_log = log_dir / "kills.log"
        self.kill_log.touch()
        self.respawns = 0
        self.test_kills = 0

    def _env(self, service: str, port: int, faults: dict[str, str]) -> dict[str, str]:
        env = service_env(self.settings, service, port)
        env.update({
            "CARELOOP_DEADLINE_SCAN_INTERVAL_S": "0.5",
            "CARELOOP_CONSUMER_BACKOFF_INITIAL_S": "0.05",
            "CARELOOP_CONSUMER_BACKOFF_MAX_S": "0.5",
            "CARELOOP_FAULT_LOG": str(self.kill_log),
            "CARELOOP_FAULT_SERVICE": service,
            "CARELOOP_FAULT_SEED": str(random.getrandbits(32)),
            **faults,
        })
        return env

    async def start(self, service: str, *, faults: dict[str, str] | None = None, wait: bool = True,
                    timeout: float = 90) -> Replica:
        port = free_port()
        faults = dict(faults or {})
        proc = subprocess.Popen([sys.executable, str(FAULTY_SERVICE), service],
                                env=self._env(service, port, faults), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        replica = Replica(service, port, proc, faults)
        self.replicas.append(replica)
        if wait:
            await self.ready(replica, timeout=timeout)
        return replica

    async def ready(self, replica: Replica, *, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if not replica.alive:
                    return  # a fault may kill it before it is ready; keep_alive() brings it back
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"http://127.0.0.1:{replica.port}/health/ready", timeout=2)
                    if response.status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{replica.service} was not ready within {timeout}s")
                await asyncio.sleep(0.2)

    def kill(self, replica: Replica) -> None:
        if replica.alive:
            replica.process.send_signal(signal.SIGKILL)
            replica.process.wait()
            self.test_kills += 1

    async def stop(self, replica: Replica) -> None:
        """A graceful stop, as an operator scaling down does (SIGTERM, then wait)."""
        if replica.alive:
            replica.process.terminate()
            for _ in range(300):
                if not replica.alive:
                    break
                await asyncio.sleep(0.1)
            else:
                self.kill(replica)
        self.replicas.remove(replica)

    async def keep_alive(self) -> None:
        """Replace every replica that died (killed by a fault or by the test) with a fresh one."""
        for replica in list(self.replicas):
            if not replica.alive:
                self.replicas.remove(replica)
                self.respawns += 1
                await self.start(replica.service, faults=replica.faults, wait=False)

    def kills_by_window(self) -> dict[str, int]:
        lines = self.kill_log.read_text(encoding="utf-8").split()
        pairs = zip(lines[::2], lines[1::2], strict=False)
        return dict(Counter(f"{service}:{window}" for service, window in pairs))

    async def close(self) -> None:
        for replica in list(self.replicas):
            if replica.alive:
                replica.process.terminate()
        for replica in list(self.replicas):
            try:
                await asyncio.wait_for(asyncio.to_thread(replica.process.wait), timeout=20)
            except TimeoutError:
                replica.process.kill()
                replica.process.wait()
        self.replicas.clear()


def listening_pid(bootstrap_servers: str) -> int | None:
    """The process of this machine listening on the broker's (first) loopback address, if this test
    may signal it (same user): the embedded broker or a local Apache Kafka; None for a remote one.
    Found by its listening socket in ``/proc`` (Linux), so it needs nothing from whoever started it."""
    host, _, port_text = bootstrap_servers.split(",")[0].strip().rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]") or not port_text.isdigit():
        return None
    port = int(port_text)
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        pid = int(proc.name)
                        try:
                            os.kill(pid, 0)
                        except PermissionError:
                            return None
                        return pid
    return None


async def readiness(fleet: Fleet) -> dict[int, bool]:
    """Each live replica's /health/ready, by process id: green (200) or not."""
    out: dict[int, bool] = {}
    async with httpx.AsyncClient() as client:
        for replica in fleet.replicas:
            try:
                response = await client.get(f"http://127.0.0.1:{replica.port}/health/ready", timeout=3)
                out[replica.process.pid] = response.status_code == 200
            except httpx.HTTPError:
                out[replica.process.pid] = False
    return out


async def failed_relay_attempts(settings: Settings) -> int:
    """Outbox rows a relay failed to publish at least once (noted by the relay, then retried)."""
    conn = await _connect(settings)
    try:
        return int(await conn.fetchval(
            "SELECT (SELECT count(*) FROM intake.outbox WHERE attempts > 0)"
            " + (SELECT count(*) FROM routing.outbox WHERE attempts > 0)"
            " + (SELECT count(*) FROM reporting.outbox WHERE attempts > 0)"))
    finally:
        await conn.close()


# --- reading topics ----------------------------------------------------------------------------


async def read_until_quiet(settings: Settings, topics: list[str], *, quiet_s: float = 2.0,
                           timeout: float = 60) -> list[Any]:
    """Every record of the (prefixed) topics from the beginning, read until nothing came for
    ``quiet_s``: end offsets are not trusted (Tansu under-reports them for multi-record batches)."""
    names = [f"{settings.topic_prefix}{t}" for t in topics]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await dlq.read_until_quiet(settings, consumer, names, quiet_s=quiet_s, timeout=timeout)
    finally:
        await consumer.stop()


def dlq_topics() -> list[str]:
    return [t for t in all_topics() if t.endswith(".dlq")]


# --- the checker -------------------------------------------------------------------------------


@dataclass
class Effects:
    counts: dict[str, int]
    problems: list[str]

    @property
    def lost(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("lost"))

    @property
    def doubled(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("doubled"))

    def line(self, scenario: str) -> str:
        shown = {k: v for k, v in self.counts.items() if v or not k.startswith(("lost", "doubled", "wrong"))}
        return (f"[faults] {scenario}: lost={self.lost} doubled={self.doubled} "
                f"{json.dumps(shown, sort_keys=True)}")


async def _connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect((settings.db.admin_url or "").replace("postgresql+asyncpg://", "postgresql://"))


async def progress(settings: Settings) -> dict[str, int]:
    """How far the pipeline got: rows per stage and outbox rows still waiting."""
    conn = await _connect(settings)
    try:
        row = await conn.fetchrow("""
            SELECT (SELECT count(*) FROM intake.feedback) AS feedback,
                   (SELECT count(*) FROM routing.cases) AS cases,
                   (SELECT count(*) FROM reporting.case_facts) AS facts,
                   (SELECT count(*) FROM reporting.case_facts WHERE escalations > 0) AS escalated_facts,
                   (SELECT count(*) FROM routing.deadlines WHERE breached_at IS NOT NULL) AS breached,
                   (SELECT count(*) FROM routing.deadlines) AS deadlines,
                   (SELECT count(*) FROM reporting.deadline_facts) AS deadline_facts,
                   (SELECT count(*) FROM reporting.deadline_facts WHERE breached_at IS NOT NULL) AS projected_breaches,
                   (SELECT count(*) FROM routing.cases c
                     WHERE c.kind = 'complaint' AND c.complaint_class = 2
                       AND c.status <> ALL($1::text[])
                       AND NOT EXISTS (SELECT 1 FROM routing.work_order_cases l WHERE l.case_id = c.id))
                     AS unattached,
                   (SELECT count(*) FROM intake.outbox WHERE published_at IS NULL)
                 + (SELECT count(*) FROM routing.outbox WHERE published_at IS NULL)
                 + (SELECT count(*) FROM reporting.outbox WHERE published_at IS NULL) AS unpublished""",
            sorted(state.value for state in NOT_ON_WORK_ORDERS))
        return dict(row)
    finally:
        await conn.close()


async def settle(settings: Settings, *, expected: int, timeout: float = 180, fleet: Fleet | None = None,
                 quiet_s: float = 3.0) -> dict[str, int]:
    """Wait until every expected feedback reached reporting, every breach was projected, every
    class-2 complaint is on a work order, the outboxes are drained, and nothing changed for
    ``quiet_s`` (a doubled effect has time to show)."""
    deadline = time.monotonic() + timeout
    stable_since, last = time.monotonic(), None
    while True:
        if fleet is not None:
            await fleet.keep_alive()
        try:
            now = await progress(settings)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError):
            now = None  # the database is being restarted
        # Reporting reads every topic on partitions of its own: a replica killed while it held those
        # of the deadline topics keeps them until its session times out, so the case facts can be
        # complete while the deadlines and breaches are still to come. Wait for all of them. So does
        # routing, whose own ComplaintClassified puts each class-2 complaint on a work order: the
        # cases can all be there while those attachments (and their events) are still to come.
        done = (now is not None and now["facts"] >= expected and now["unpublished"] == 0
                and now["cases"] >= expected and now["deadline_facts"] >= now["deadlines"]
                and now["projected_breaches"] >= now["breached"] and now["unattached"] == 0)
        if now != last:
            stable_since, last = time.monotonic(), now
        elif done and time.monotonic() - stable_since >= quiet_s:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"the pipeline did not settle within {timeout}s: {now} (expected {expected})")
        await asyncio.sleep(0.25)


async def check_effects(settings: Settings, workload: Workload, *, planner: Any | None = None) -> Effects:
    """Count every submitted message's effects at every stage; expected: exactly once each."""
    from services.routing.adapters import CalendarPlanner
    from services.routing.config import RoutingSettings
    from shared.calendar import calendar_from_settings

    if planner is None:
        routing = RoutingSettings()
        planner = CalendarPlanner(calendar_from_settings(routing.working_hours), routing.deadline_policy())
    counts: Counter[str] = Counter()
    problems: list[str] = []
    submitted = set(workload.submitted)
    conn = await _connect(settings)
    try:
        feedback = await conn.fetch(
            "SELECT id, external_id FROM intake.feedback WHERE source_system = $1", SOURCE)
        per_external = Counter(r["external_id"] for r in feedback)
        counts["submitted"] = len(submitted)
        counts["feedback"] = len(feedback)
        counts["lost:intake"] = len(submitted - set(per_external))
        counts["doubled:intake"] = sum(n - 1 for n in per_external.values() if n > 1)
        counts["unexpected:intake"] = len(set(per_external) - submitted)
        feedback_ids = {str(r["id"]) for r in feedback}

        received = Counter(r["key"] for r in await conn.fetch(
            "SELECT key FROM intake.outbox WHERE event_type = 'FeedbackReceived'"))
        counts["lost:feedback-received"] = len(feedback_ids - set(received))
        counts["doubled:feedback-received"] = sum(n - 1 for n in received.values() if n > 1)

        cases = await conn.fetch(
            "SELECT id, feedback_id, received_at, org_group, org_subsidiary, org_project FROM routing.cases")
        per_feedback = Counter(str(r["feedback_id"]) for r in cases)
        counts["cases"] = len(cases)
        counts["lost:cases"] = len(feedback_ids - set(per_feedback))
        counts["doubled:cases"] = sum(n - 1 for n in per_feedback.values() if n > 1)
        case_ids = {str(r["id"]) for r in cases}

        routing_events = await conn.fetch("SELECT event_type, key FROM routing.outbox")
        by_type: dict[str, Counter[str]] = {}
        for r in routing_events:
            by_type.setdefault(r["event_type"], Counter())[r["key"]] += 1
        opened = by_type.get("CaseOpened", Counter())
        counts["lost:case-opened"] = len(case_ids - set(opened))
        counts["doubled:case-opened"] = sum(n - 1 for n in opened.values() if n > 1)
        counts["doubled:complaint-classified"] = sum(
            n - 1 for n in by_type.get("ComplaintClassified", Counter()).values() if n > 1)

        deadlines = await conn.fetch(
            "SELECT d.case_id, d.kind, d.starts_at, d.due_at, d.breached_at, c.received_at, "
            "c.org_group, c.org_subsidiary, c.org_project FROM routing.deadlines d "
            "JOIN routing.cases c ON c.id = d.case_id")
        breached = Counter(str(r["case_id"]) for r in deadlines if r["breached_at"] is not None)
        counts["deadlines"] = len(deadlines)
        counts["breached"] = sum(breached.values())
        first = Counter(str(r["case_id"]) for r in deadlines if r["kind"] == "first_response")
        counts["lost:first-response-deadline"] = len(case_ids - set(first))
        counts["doubled:first-response-deadline"] = sum(n - 1 for n in first.values() if n > 1)
        wrong = 0
        for r in deadlines:
            org_path = "/".join(p for p in (r["org_group"], r["org_subsidiary"], r["org_project"]) if p)
            expected_due = planner.plan(r["kind"], r["starts_at"], org_path).due_at
            if r["due_at"] != expected_due or (r["kind"] == "first_response" and r["starts_at"] != r["received_at"]):
                wrong += 1
                if len(problems) < 5:
                    problems.append(f"deadline {r['case_id']} {r['kind']}: due {r['due_at']}, calendar says "
                                    f"{expected_due} (start {r['starts_at']}, received {r['received_at']})")
        counts["wrong:deadlines"] = wrong
        for event_type in ("DeadlineBreached", "CaseEscalated"):
            emitted = by_type.get(event_type, Counter())
            counts[f"lost:{event_type}"] = sum(max(0, n - emitted[c]) for c, n in breached.items())
            counts[f"doubled:{event_type}"] = sum(max(0, n - breached[c]) for c, n in emitted.items())
        escalations = by_type.get("CaseEscalated", Counter())

        facts = await conn.fetch("SELECT case_id, escalations FROM reporting.case_facts")
        fact_by_case = {str(r["case_id"]): r["escalations"] for r in facts}
        counts["facts"] = len(facts)
        counts["lost:reporting"] = len(case_ids - set(fact_by_case))
        counts["escalations"] = sum(fact_by_case.values())
        counts["lost:reporting-escalations"] = sum(
            max(0, escalations[c] - fact_by_case.get(c, 0)) for c in case_ids)
        counts["doubled:reporting-escalations"] = sum(
            max(0, n - escalations[c]) for c, n in fact_by_case.items())
        due = {(str(r["case_id"]), r["kind"]): r["due_at"] for r in deadlines}
        deadline_facts = await conn.fetch("SELECT case_id, kind, due_at, breached_at FROM reporting.deadline_facts")
        counts["wrong:reporting-deadlines"] = sum(
            1 for r in deadline_facts if due.get((str(r["case_id"]), r["kind"])) != r["due_at"])
        counts["lost:reporting-deadlines"] = len(set(due) - {(str(r["case_id"]), r["kind"]) for r in deadline_facts})
        breached_kinds = {(str(d["case_id"]), d["kind"]) for d in deadlines if d["breached_at"] is not None}
        counts["wrong:reporting-breaches"] = sum(
            1 for r in deadline_facts
            if (r["breached_at"] is not None) != ((str(r["case_id"]), r["kind"]) in breached_kinds))

        for schema in ("intake", "routing", "reporting"):
            counts[f"lost:{schema}-outbox-unpublished"] = await conn.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()

    dead = await read_until_quiet(settings, dlq_topics(), quiet_s=1.5)
    dead_keys: Counter[str] = Counter()
    for record in dead:
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
        key = record.key.decode() if record.key else "?"
        dead_keys[key] += 1
        if key in workload.bad:
            if headers.get("x-dlq-kind") != workload.bad[key] or not headers.get("x-dlq-reason"):
                counts["wrong:dlq-reason"] += 1
                problems.append(f"dead letter {key}: {headers.get('x-dlq-kind')} {headers.get('x-dlq-reason')!r}")
            if headers.get("x-original-topic") != f"{settings.topic_prefix}{INBOUND_FEEDBACK}":
                counts["wrong:dlq-origin"] += 1
    counts["dead-letters"] = len(dead)
    counts["lost:dead-letters"] = len(set(workload.bad) - set(dead_keys))
    counts["unexpected:dead-letters"] = sum(n for k, n in dead_keys.items() if k not in workload.bad)
    # A dead letter may be published twice after a crash (at least once); the DLQ consumer dedupes
    # on x-dlq-id, so only different letters for one record would be a doubled effect.
    ids_per_key: dict[str, set[str]] = {}
    for record in dead:
        headers = dict(record.headers or ())
        ids_per_key.setdefault(record.key.decode() if record.key else "?", set()).add(
            headers.get("x-dlq-id", b"").decode())
    counts["doubled:dead-letters"] = sum(len(ids) - 1 for ids in ids_per_key.values())
    return Effects(dict(counts), problems)


def assert_exactly_once(effects: Effects, scenario: str) -> None:
    print(effects.line(scenario), flush=True)
    bad = {k: v for k, v in effects.counts.items() if v and k.startswith(("lost", "doubled", "wrong", "unexpected"))}
    assert not bad, f"{scenario}: {bad}; {effects.problems}"
    # a checker that read nothing proves nothing
    assert effects.counts["submitted"] > 0 and effects.counts["deadlines"] >= effects.counts["cases"], effects.counts
    assert effects.counts["feedback"] == effects.counts["submitted"] == effects.counts["cases"] == effects.counts["facts"]


def dead_letter_topic(topic: str = INBOUND_FEEDBACK) -> str:
    return dead_letter(topic)


def env_flag(name: str, default: str) -> str:
    return os.environ.get(name, default)


# --- consumer-group offsets --------------------------------------------------------------------


async def committed_offsets(settings: Settings, consumer: str, topics: list[str] | None = None
                            ) -> dict[tuple[str, int], int]:
    """The offsets a service's consumer group committed, per (topic, partition) of ``topics``
    (logical names; ``inbound.feedback`` by default). Read through a consumer of the group that
    does not join it (the admin client's OffsetFetch version is one Tansu does not answer)."""
    names = [f"{settings.topic_prefix}{t}" for t in (topics or [INBOUND_FEEDBACK])]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), group_id=settings.group_id(consumer),
                              enable_auto_commit=False)
    await reader.start()
    try:
        result: dict[tuple[str, int], int] = {}
        for name in names:
            # asked by name (see shared.messaging.kafka.topic_partitions): on Apache Kafka a
            # consumer's topic listing leaves the topic out of its own partition metadata
            for partition in await topic_partitions(settings, name):
                offset = await reader.committed(TopicPartition(name, partition))
                if offset is not None and offset >= 0:
                    result[(name, partition)] = offset
        return result
    finally:
        await reader.stop()


async def wait_consumed(settings: Settings, consumer: str, last: dict[tuple[str, int], int], *,
                        timeout: float = 120) -> None:
    """Until the consumer group committed past every given offset (records we produced)."""
    deadline = time.monotonic() + timeout
    while True:
        topics = sorted({t[len(settings.topic_prefix):] for t, _ in last})
        committed = await committed_offsets(settings, consumer, topics)
        behind = {tp: o for tp, o in last.items() if committed.get(tp, -1) <= o}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{consumer} did not consume past {behind} within {timeout}s")
        await asyncio.sleep(0.3)


async def replay(settings: Settings, records: list[Any]) -> dict[tuple[str, int], int]:
    """Publish records again to their own topic and partition (a redelivery); returns the last
    offset written per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all",
                                linger_ms=5)
    await producer.start()
    last: dict[tuple[str, int], int] = {}
    try:
        deliveries = [await producer.send(r.topic, value=r.value, key=r.key, partition=r.partition,
                                          headers=list(r.headers or ())) for r in records]
        for metadata in await asyncio.gather(*deliveries):
            tp = (metadata.topic, metadata.partition)
            last[tp] = max(last.get(tp, -1), metadata.offset)
    finally:
        await producer.stop()
    return last
