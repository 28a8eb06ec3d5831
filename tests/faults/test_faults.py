"""Fault injection on the real broker and PostgreSQL: crashes at the commit/publish windows,
rebalances, redeliveries, poison, a database restart, a paused broker, and a real Apache Kafka
SIGKILLed and restarted mid-stream.

Each scenario streams complaints through intake (``inbound.feedback``) → routing → reporting, run
as their own processes, breaks something in the middle, and ends with the checker of
``faultkit.check_effects``: every message's effects at every stage counted, expected exactly once,
the dead-letter topics holding exactly the bad records with their reasons, and every case's
deadlines equal to what the business calendar gives. The counts are printed (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

import pytest
from faultkit import (
    ORGS,
    Fleet,
    Workload,
    assert_exactly_once,
    check_effects,
    committed_offsets,
    failed_relay_attempts,
    listening_pid,
    produce,
    produce_resending,
    progress,
    readiness,
    read_until_quiet,
    replay,
    settle,
    wait_consumed,
)

from shared.settings import SERVICES, Settings
from shared.testing.infra import Infrastructure, create_database, delete_test_topics, drop_database
from shared.testing.infra import test_settings as settings_for
from shared.testing.registry import register_org_units, with_parents
from shared.testing.services import migrate
from shared.topics import EVENT_TOPICS, INBOUND_FEEDBACK

pytestmark = [pytest.mark.faults, pytest.mark.integration]

PIPELINE = ("intake", "routing", "reporting")


async def start_pipeline(fleet: Fleet, faults: dict[str, dict[str, str]] | None = None) -> None:
    """intake, routing and reporting, one replica each, started side by side."""
    faults = faults or {}
    # intake dead-letters inbound records for an org unit its registry does not know
    await register_org_units(fleet.settings, *with_parents(*("/".join(org) for org in ORGS)))
    replicas = [await fleet.start(s, faults=faults.get(s), wait=False) for s in PIPELINE]
    await asyncio.gather(*(fleet.ready(r) for r in replicas))


def timed(scenario: str, started: float) -> None:
    print(f"[faults] {scenario}: {time.monotonic() - started:.1f} s", flush=True)


# --- 1. SIGKILL between commit and publish, between a consumer's commit and its offset commit --


async def test_sigkill_at_the_commit_windows_loses_and_doubles_nothing(migrated: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    workload = Workload()
    fleet = Fleet(migrated, log_dir=tmp_path)
    # Per commit that leaves offsets or outbox rows at stake, and per record the broker acknowledged
    # to a relay; at most 4 kills at each window, so that the stream finishes; each window is hit at
    # least once (at a process's 5th chance there if chance alone has not hit it by then).
    faults = {"CARELOOP_FAULT_KILL_AFTER_COMMIT": "0.05", "CARELOOP_FAULT_KILL_AFTER_PUBLISH": "0.01",
              "CARELOOP_FAULT_MAX_KILLS": "4", "CARELOOP_FAULT_FIRST_KILL_AT": "5"}
    n = 400
    try:
        await start_pipeline(fleet, {s: faults for s in PIPELINE})
        records = workload.messages(0, n)
        records[n // 2:n // 2] = workload.poison(0)
        stream = asyncio.create_task(produce(migrated, records, rate=60))
        while not stream.done():  # and the test kills a replica at random now and then
            await asyncio.sleep(random.uniform(1.5, 3.5))
            await fleet.keep_alive()
            if random.random() < 0.5 and (alive := [r for r in fleet.replicas if r.alive]):
                fleet.kill(random.choice(alive))
        await stream
        await settle(migrated, expected=n, fleet=fleet, timeout=240)
    finally:
        await fleet.close()
    kills = fleet.kills_by_window()
    print(f"[faults] kills injected at the windows: {kills}; killed by the test at random: {fleet.test_kills}; "
          f"replicas respawned: {fleet.respawns}", flush=True)
    assert_exactly_once(await check_effects(migrated, workload), "sigkill at commit windows")
    assert sum(kills.values()) + fleet.test_kills >= 3
    assert any("after-consumer-commit" in k for k in kills), kills
    assert any("after-publish-before-mark" in k for k in kills), kills
    timed("sigkill at commit windows", started)


# --- 2. routing scaled 1 → 3 → 1 in the middle of a stream ---------------------------------------


async def test_routing_scaled_out_and_back_mid_stream(migrated: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    workload = Workload()
    fleet = Fleet(migrated, log_dir=tmp_path)
    n = 600
    try:
        await start_pipeline(fleet)
        # one stream of 20 s: routing goes to three replicas and back to one while it flows. The
        # stream holds its second half until the extra replicas are ready and its last quarter until
        # the scale-back has begun (on a quiet machine both came long before; on a loaded one a
        # replica's start can outlast the whole stream, and the scenario would prove nothing).
        scaled_out, scaling_back = asyncio.Event(), asyncio.Event()
        stream = asyncio.create_task(produce(migrated, workload.messages(0, n), rate=30,
                                             gates={n // 2: scaled_out, 3 * n // 4: scaling_back}))
        await asyncio.sleep(1)
        extra = [await fleet.start("routing", wait=False) for _ in range(2)]  # scale out mid-stream
        await asyncio.gather(*(fleet.ready(r) for r in extra))
        scaled_out.set()
        cases_at_three = (await progress(migrated))["cases"]
        await asyncio.sleep(3)
        # and back (measured when the scale-back begins: stopping two replicas gracefully takes a while)
        cases_at_one = (await progress(migrated))["cases"]
        stream_running = not stream.done()
        scaling_back.set()
        await asyncio.gather(*(fleet.stop(r) for r in extra))
        await stream
        await settle(migrated, expected=n, timeout=240)
    finally:
        await fleet.close()
    print(f"[faults] scaled to 3 routing replicas at {cases_at_three} cases, back to 1 at {cases_at_one} of {n}",
          flush=True)
    assert stream_running and cases_at_one < n, "the stream ended before routing was scaled back; slow it down"
    assert_exactly_once(await check_effects(migrated, workload), "routing 1→3→1")
    timed("routing 1→3→1", started)


# --- 3. the same events delivered twice and out of order -----------------------------------------


async def duplicates_and_disorder(settings: Settings, tmp_path: Path, *, break_inbox: bool) -> None:
    """Every inbound message twice, shuffled; then every event routing published delivered to
    reporting again, newest first. ``break_inbox`` disables reporting's inbox (the proof that the
    checker can fail)."""
    workload = Workload()
    fleet = Fleet(settings, log_dir=tmp_path)
    n = 200
    try:
        await start_pipeline(fleet, {"reporting": {"CARELOOP_FAULT_BREAK_INBOX": "1"} if break_inbox else {}})
        records = workload.messages(0, n) * 2
        random.shuffle(records)
        await produce(settings, records)
        await settle(settings, expected=n)
        case_topics = sorted({f"{settings.topic_prefix}{t}" for t in EVENT_TOPICS.values()
                              if t.startswith("case.") or t == "complaint.classified"})
        published = await read_until_quiet(settings, [t[len(settings.topic_prefix):] for t in case_topics])
        # never a pass on nothing: every case event routing's outbox published is read back
        written = await outbox_rows_on(settings, "routing", [t[len(settings.topic_prefix):] for t in case_topics])
        assert len(published) == written >= 2 * n, f"read {len(published)} case events of {written} published"
        last = await replay(settings, list(reversed(published)))
        await wait_consumed(settings, "reporting.views", last)
        await settle(settings, expected=n, quiet_s=1.0)
    finally:
        await fleet.close()
    print(f"[faults] redelivered {len(records) - n} inbound duplicates and {len(published)} case events "
          f"(newest first){' with reporting inbox DISABLED' if break_inbox else ''}", flush=True)
    assert_exactly_once(await check_effects(settings, workload),
                        "duplicates + disorder" + (" (inbox disabled)" if break_inbox else ""))


async def test_events_delivered_twice_and_out_of_order_count_once(migrated: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    await duplicates_and_disorder(migrated, tmp_path, break_inbox=False)
    timed("duplicates + disorder", started)


async def test_the_checker_catches_a_disabled_inbox(migrated: Settings, tmp_path: Path) -> None:
    """The duplicate scenario must fail when reporting's inbox is switched off in its process."""
    started = time.monotonic()
    with pytest.raises(AssertionError, match="doubled:reporting-escalations") as failure:
        await duplicates_and_disorder(migrated, tmp_path, break_inbox=True)
    print(f"[faults] as it should, the checker failed: {str(failure.value)[:300]}", flush=True)
    timed("disabled inbox caught", started)


# --- 4. poison and schema-invalid records in the middle of a stream ------------------------------


async def test_poison_goes_to_the_dlq_and_the_partition_keeps_flowing(migrated: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    workload = Workload()
    fleet = Fleet(migrated, log_dir=tmp_path)
    n = 300
    try:
        await start_pipeline(fleet)
        good = workload.messages(0, n)
        # Bad records on every partition, each followed by good ones: a stuck partition would lose them.
        stream: list[tuple[bytes, bytes, int | None]] = []
        for i, (key, value) in enumerate(good):
            stream.append((key, value, None))
            if i % 60 == 30:
                stream.extend((k, v, p) for p, (k, v) in enumerate(workload.poison(i)))
        await produce_to_partitions(migrated, stream)
        await settle(migrated, expected=n)
    finally:
        await fleet.close()
    effects = await check_effects(migrated, workload)
    assert effects.counts["dead-letters"] == len(workload.bad)
    assert_exactly_once(effects, "poison mid-stream")
    timed("poison mid-stream", started)


async def produce_to_partitions(settings: Settings, stream: list[tuple[bytes, bytes, int | None]]) -> None:
    from aiokafka import AIOKafkaProducer

    from shared.messaging.kafka import bootstrap

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all")
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(f"{settings.topic_prefix}{INBOUND_FEEDBACK}"))
        deliveries = [await producer.send(f"{settings.topic_prefix}{INBOUND_FEEDBACK}", value=v, key=k,
                                          partition=None if p is None else partitions[p % len(partitions)])
                      for k, v, p in stream]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


# --- 5. PostgreSQL stopped and restarted mid-stream ----------------------------------------------


async def test_postgres_restart_mid_stream_advances_no_offset_past_uncommitted_work(
    infra: Infrastructure, tmp_path: Path
) -> None:
    from shared.devstack import EmbeddedPostgres

    started = time.monotonic()
    # A server of its own: stopping the shared one would break every other test.
    pg = await asyncio.to_thread(EmbeddedPostgres(tmp_path / "pgdata", database="postgres").start)
    url = await create_database(pg.admin_url)
    settings = settings_for(infra, database_url=url)
    await migrate(settings, SERVICES)
    workload = Workload()
    fleet = Fleet(settings, log_dir=tmp_path)
    n = 500
    try:
        await start_pipeline(fleet)
        records = workload.messages(0, n)
        records[n // 3:n // 3] = workload.poison(0)
        stream = asyncio.create_task(produce(settings, records, rate=80))
        await asyncio.sleep(2.5)
        before = await progress(settings)
        await asyncio.to_thread(pg.stop)
        await asyncio.sleep(1.0)  # a batch in flight when the server went away has failed by now
        frozen = await committed_offsets(settings, "intake.inbound")
        await asyncio.sleep(4.0)
        still = await committed_offsets(settings, "intake.inbound")
        await asyncio.to_thread(pg.start)
        await stream
        await settle(settings, expected=n, fleet=fleet, timeout=240)
        effects = await check_effects(settings, workload)
    finally:
        await fleet.close()
        await delete_test_topics(settings)  # made on the suite's broker under this test's own prefix
        await drop_database(pg.admin_url, url)
        await asyncio.to_thread(pg.stop)
    print(f"[faults] PostgreSQL stopped at {before['feedback']} feedback / {before['facts']} facts for 5 s; "
          f"intake offsets while it was down: {sum(frozen.values())} then {sum(still.values())}", flush=True)
    assert frozen and sum(frozen.values()) > 0, "no committed offset was read while the database was down"
    assert still == frozen, "an offset advanced while the database was down"
    assert before["facts"] < n, "the stream ended before the database was stopped"
    assert_exactly_once(effects, "PostgreSQL restart")
    timed("PostgreSQL restart", started)


# --- 6. the broker paused (SIGSTOP) and resumed ----------------------------------------------------


@pytest.mark.parametrize("broker", ["own-embedded", "suite"])
async def test_paused_broker_outbox_holds_events_and_drains_after(infra: Infrastructure, migrated: Settings,
                                                                  tmp_path: Path, broker: str) -> None:
    """Run twice: on an embedded broker of its own, and on the suite's broker (the embedded one or a
    local Apache Kafka), paused by signalling the process that listens on its port; skipped when that
    broker is not a process of this machine the test may signal. Tests run one at a time, so pausing
    the suite's broker stalls this test only."""
    import os

    from shared.devstack import EmbeddedKafka
    from shared.settings import KafkaSettings

    started = time.monotonic()
    kafka: EmbeddedKafka | None = None
    if broker == "own-embedded":
        kafka = await asyncio.to_thread(EmbeddedKafka(log_path=tmp_path / "tansu.log").start)
        assert kafka.process is not None
        pid = kafka.process.pid
        settings = migrated.model_copy(update={"kafka": KafkaSettings(
            bootstrap_servers=kafka.bootstrap_servers, partitions=3, idempotent_producer=False)})
    else:
        found = listening_pid(infra.bootstrap_servers)
        if found is None:
            pytest.skip(f"the suite's broker {infra.bootstrap_servers} is not a process of this machine "
                        "that the test may pause (SIGSTOP)")
        pid, settings = found, migrated
    workload = Workload()
    fleet = Fleet(settings, log_dir=tmp_path)
    n = 800
    try:
        await migrate(settings, [])  # the topics, on this broker
        await produce(settings, workload.messages(0, n))
        await start_pipeline(fleet)
        await wait_for(lambda p: p["feedback"] >= 100, settings)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(1.0)
            paused = await progress(settings)
            held = paused["unpublished"]
            published_then = await published_count(settings)
            await asyncio.sleep(4.0)
            published_later = await published_count(settings)
            held = max(held, (await progress(settings))["unpublished"])
        finally:
            os.kill(pid, signal.SIGCONT)
        await settle(settings, expected=n, fleet=fleet, timeout=240)
        effects = await check_effects(settings, workload)
    finally:
        await fleet.close()
        if kafka is not None:
            await asyncio.to_thread(kafka.stop)
    print(f"[faults] {broker} broker (pid {pid}) paused 5 s at {paused['feedback']} feedback: outbox held "
          f"{held} events, published while paused: {published_later - published_then}", flush=True)
    assert held > 0, "nothing was waiting in an outbox while the broker was paused"
    assert published_later == published_then, "rows were marked published while the broker was paused"
    assert_exactly_once(effects, "broker paused")
    timed(f"broker paused ({broker})", started)


# --- 7. the broker SIGKILLed mid-stream and restarted on its data ---------------------------------


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent-producer", "plain-producer"])
async def test_broker_killed_mid_stream_restarts_and_every_service_recovers(
    infra: Infrastructure, tmp_path: Path, idempotent: bool
) -> None:
    """A real Apache Kafka of the test's own (from the Kafka home of ``CARELOOP_KAFKA_HOME``) is
    SIGKILLed while feedback streams in, stays down for a pause, and is started again on the same data
    directory. The services run on, never restarted: each notices (readiness red), retries, and is
    ready again by itself once the broker is back; nothing is lost or doubled, with the services'
    idempotent producer (``CARELOOP_KAFKA_IDEMPOTENT_PRODUCER``) on and off."""
    from shared.devstack import free_port
    from shared.local_kafka import KAFKA_HOME_VARIABLE, LocalKafka, java_available, kafka_home

    home = kafka_home()
    if home is None:
        pytest.skip(f"no Apache Kafka to kill: set {KAFKA_HOME_VARIABLE} to a Kafka installation")
    if not java_available():
        pytest.skip("no Java runtime for Apache Kafka (Java 17+: apt-get install openjdk-17-jre-headless)")
    started = time.monotonic()
    kafka = LocalKafka(home, tmp_path / "kafka", port=free_port(), controller_port=free_port(),
                       heap="-Xmx512m -Xms256m")
    await asyncio.to_thread(kafka.start)
    url = await create_database(infra.admin_url)
    settings = settings_for(Infrastructure("kafka", kafka.bootstrap_servers, infra.admin_url), database_url=url)
    settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(
        update={"idempotent_producer": idempotent})})
    await migrate(settings, SERVICES)
    workload = Workload()
    fleet = Fleet(settings, log_dir=tmp_path)
    # a send waiting on the dead broker times out within the outage and is retried by the relay
    timeouts = {"CARELOOP_KAFKA_REQUEST_TIMEOUT_MS": "8000"}
    n, pause_s = 600, 6.0
    red: set[int] = set()
    try:
        await start_pipeline(fleet, {s: timeouts for s in PIPELINE})
        pids = {r.process.pid: r.service for r in fleet.replicas}
        records = workload.messages(0, n)
        records[n // 2:n // 2] = workload.poison(0)
        stream = asyncio.create_task(produce_resending(settings, records, rate=30))
        await wait_for(lambda p: p["feedback"] >= n // 4, settings, timeout=120)
        before = await progress(settings)
        await asyncio.to_thread(kafka.stop, signal.SIGKILL)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < pause_s:  # every service must notice that it is gone
            red |= {pid for pid, ok in (await readiness(fleet)).items() if not ok}
            await asyncio.sleep(0.5)
        await asyncio.to_thread(kafka.start)  # the same data directory: its history is kept
        down_s = time.monotonic() - killed_at
        deadline = time.monotonic() + 180
        while not all((green := await readiness(fleet)).values()):
            red |= {pid for pid, ok in green.items() if not ok}
            assert time.monotonic() < deadline, f"not ready again within 180 s of the restart: {green}"
            await asyncio.sleep(0.5)
        recovered_s = time.monotonic() - killed_at - down_s
        resent = await stream
        await settle(settings, expected=n, timeout=240)  # no fleet: nobody is respawned
        dead = [r for r in fleet.replicas if not r.alive]
        same = {r.process.pid for r in fleet.replicas} == set(pids)
        retried = await failed_relay_attempts(settings)
        effects = await check_effects(settings, workload)
    finally:
        await fleet.close()
        await asyncio.to_thread(kafka.stop, signal.SIGKILL)
        await drop_database(infra.admin_url, url)
    print(f"[faults] broker SIGKILLed at {before['feedback']} of {n} feedback, down {down_s:.1f} s, every "
          f"service ready again {recovered_s:.1f} s after its restart (idempotent producer "
          f"{'on' if idempotent else 'off'}); readiness went red in {len(red)} of {len(pids)} services; "
          f"the source resent {resent} records; outbox rows retried by a relay: {retried}", flush=True)
    assert not dead and same, f"a service died or was replaced: {[r.service for r in dead]}"
    assert red == set(pids), f"readiness stayed green without a broker in {[pids[p] for p in set(pids) - red]}"
    assert before["feedback"] < n, "the stream ended before the broker was killed"
    assert resent > 0, "no send of the source failed: the broker was not down while it streamed"
    assert effects.counts["dead-letters"] == len(workload.bad) > 0, effects.counts
    assert_exactly_once(effects, f"broker SIGKILL + restart (idempotent producer {'on' if idempotent else 'off'})")
    timed("broker SIGKILL + restart", started)


async def wait_for(condition, settings: Settings, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition(await progress(settings)):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {await progress(settings)}")
        await asyncio.sleep(0.1)


async def published_count(settings: Settings) -> int:
    from faultkit import _connect

    conn = await _connect(settings)
    try:
        return int(await conn.fetchval(
            "SELECT (SELECT count(*) FROM intake.outbox WHERE published_at IS NOT NULL)"
            " + (SELECT count(*) FROM routing.outbox WHERE published_at IS NOT NULL)"
            " + (SELECT count(*) FROM reporting.outbox WHERE published_at IS NOT NULL)"))
    finally:
        await conn.close()


async def outbox_rows_on(settings: Settings, schema: str, topics: list[str]) -> int:
    """How many rows a service's outbox published to these (logical) topics."""
    from faultkit import _connect

    conn = await _connect(settings)
    try:
        return int(await conn.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NOT NULL AND topic = ANY($1::text[])",
            topics))
    finally:
        await conn.close()
