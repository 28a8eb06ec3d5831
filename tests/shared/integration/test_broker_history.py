"""A broker that lost its history is noticed by every service, and the outboxes re-publish.

The pipeline is intake (HTTP) → FeedbackReceived → routing → ComplaintClassified → reporting's
complaint count. Each complaint posted is one FeedbackReceived from intake and one
ComplaintClassified from routing, and reporting counts it once.

The procedure, worked by hand:

* 3 complaints go through the whole pipeline: reporting counts 3.
* reporting stops; 2 more complaints reach routing, which publishes their ComplaintClassified to
  the broker, where reporting has not read them yet (intake has published 5 rows, routing 5
  ComplaintClassified among its case events, and, having read those back, one work-order event
  per complaint: a leak is class 2, which goes on a work order).
* the broker loses its history (the embedded broker restarted: empty; or, on any broker, the
  topics deleted and created again).
* intake and routing notice: each hands every published row it keeps back to the relay (intake 5,
  routing all of its rows), and the relays send them to the new history. reporting starts again; it notices too (it had read 3
  ComplaintClassified there, unless the relays had already put the same records back at the same
  offsets) and reads the new history from the start.
* reporting counts 5 (the 3 it had, the 2 it missed; none twice), and a 6th complaint makes 6.
  Without the re-publish it would count 3 and then 4.
* reporting stops, and its views are rebuilt from the new history: the rebuild reads 6
  ComplaintClassified, the live views had applied 6, nothing is missing (intake's and routing's
  outboxes: every published row is on the topics), so it would be swapped in without a shortfall.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake.app import create_app as intake_app
from services.reporting.app import create_app as reporting_app
from services.reporting.rebuild import drop_schema, stage
from services.routing.app import create_app as routing_app
from shared.clock import month_of
from shared.devstack import EmbeddedKafka
from shared.messaging.kafka import bootstrap, ensure_topics
from shared.settings import SERVICES, KafkaSettings, Settings, to_asyncpg_url
from shared.testing.infra import Infrastructure, create_database, drop_database
from shared.testing.infra import test_settings as settings_for
from shared.testing.registry import register_org_units, with_parents
from shared.testing.services import eventually, migrate, read_topic, running_service
from shared.topics import COMPLAINT_CLASSIFIED, FEEDBACK_RECEIVED, all_topics

pytestmark = pytest.mark.integration

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}
PERIOD = month_of(datetime.now(UTC))


async def complaint_total(reporting: httpx.AsyncClient) -> int:
    response = await reporting.get("/api/v1/reports/complaint-counts", params={"period": PERIOD, "org": "hx"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def post_complaint(intake: httpx.AsyncClient, n: int) -> None:
    response = await intake.post("/api/v1/feedback", json={
        "kind": "complaint", "channel": "phone", "text": f"{n}号楼卫生间漏水", "received_by": "cs-0001", "org": ORG})
    assert response.status_code == 201, response.text


async def ready_note(client: httpx.AsyncClient) -> dict:
    response = await client.get("/health/ready")
    return {"http": response.status_code, **response.json()}


async def published_rows(settings: Settings, service: str, event_type: str | None = None, *,
                         published: bool | None = True) -> int:
    """Rows of ``service``'s outbox published (or, ``published=False``, still waiting; ``None``: all)."""
    state = {True: "published_at IS NOT NULL", False: "published_at IS NULL", None: "true"}[published]
    engine = create_async_engine(to_asyncpg_url(settings.db.admin_url or ""))
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(
                f"SELECT count(*) FROM {service}.outbox WHERE {state}"
                " AND (CAST(:type AS text) IS NULL OR event_type = :type)"), {"type": event_type})).scalar_one()
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def own_settings(infra: Infrastructure, servers: str) -> AsyncIterator[Settings]:
    """The suite's database server, a database of its own, and the embedded broker at ``servers``
    (which has no idempotent producer, whatever broker the rest of the suite runs on)."""
    url = await create_database(infra.admin_url)
    try:
        base = settings_for(infra, database_url=url)
        kafka = KafkaSettings(**{**dict(base.kafka), "bootstrap_servers": servers, "history_check_interval_s": 0.5,
                                 "idempotent_producer": False})
        yield base.model_copy(update={"kafka": kafka})
    finally:
        await drop_database(infra.admin_url, url)


async def run_the_procedure(settings: Settings, lose_history, caplog: pytest.LogCaptureFixture) -> None:
    await migrate(settings, SERVICES)
    await register_org_units(settings, *with_parents("hx/east/lakeside"))
    async with contextlib.AsyncExitStack() as exits:
        intake = await exits.enter_async_context(running_service(intake_app(settings)))
        routing = await exits.enter_async_context(running_service(routing_app(settings)))
        async with running_service(reporting_app(settings)) as reporting:
            for n in range(1, 4):
                await post_complaint(intake, n)
            assert await eventually(lambda: complaint_total(reporting), until=lambda t: t == 3, timeout=60) == 3
        # reporting is down: two more complaints are classified and wait on the broker for it
        for n in range(4, 6):
            await post_complaint(intake, n)
        await read_topic(settings, COMPLAINT_CLASSIFIED, until=lambda r: len(r) == 5, timeout=60)
        # what each outbox keeps: intake one FeedbackReceived per complaint; routing its case events
        # (opened, classified, assigned, deadlines, ...), 5 ComplaintClassified among them
        # (a complaint's case events are written in one transaction, so once its ComplaintClassified
        # is on the broker, the rest of them are in the outbox: wait until the relay has sent them).
        # Routing also reads its own ComplaintClassified back from the broker and puts each of the
        # five leaks (class 2) on a work order, opened or linked: wait for those five too.
        async def on_work_orders() -> int:
            return sum([await published_rows(settings, "routing", kind, published=None)
                        for kind in ("WorkOrderOpened", "WorkOrderCaseLinked")])

        await eventually(on_work_orders, until=lambda n: n == 5, timeout=60)
        for service in ("intake", "routing"):
            await eventually(lambda service=service: published_rows(settings, service, published=False),
                             until=lambda n: n == 0, timeout=30)
        kept = {"intake": await published_rows(settings, "intake"), "routing": await published_rows(settings, "routing")}
        assert kept["intake"] == 5
        assert await published_rows(settings, "routing", "ComplaintClassified") == 5

        with caplog.at_level(logging.WARNING, logger="shared.messaging.history"):
            await lose_history()

            # both producing services notice within seconds, stay ready, and say what they re-publish
            for client, service in ((intake, "intake"), (routing, "routing")):
                note = await eventually(lambda client=client: ready_note(client),
                                        until=lambda n: "history_lost" in n.get("notes", {}), timeout=60)
                assert (note["http"], note["status"]) == (200, "ready"), note  # still ready: it serves, and its relay re-publishes
                lost = note["notes"]["history_lost"]
                assert lost["outbox_rows_republished"] == kept[service], lost  # every row it kept
                assert lost["detections_since_start"] >= 1
            for client, service in ((intake, "intake"), (routing, "routing")):
                metrics = (await client.get("/health/metrics")).text
                assert f'careloop_outbox_republished_total{{service="{service}"}} {kept[service]}' in metrics
            # the new history holds each event once again (intake's and routing's five)
            received = await read_topic(settings, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 5, timeout=60)
            classified = await read_topic(settings, COMPLAINT_CLASSIFIED, until=lambda r: len(r) >= 5, timeout=60)
            assert len({json.loads(r.value)["event_id"] for r in received}) == 5
            assert len({json.loads(r.value)["event_id"] for r in classified}) == 5

            async with running_service(reporting_app(settings)) as reporting:
                # reporting notices only if it looks before the relays have restored what it had read
                # (the same records come back at the same offsets: to it, nothing was lost)
                note = await ready_note(reporting)
                assert note.get("notes", {}).get("history_lost", {}).get("outbox_rows_republished", 0) == 0, note
                assert await eventually(lambda: complaint_total(reporting), until=lambda t: t == 5, timeout=60) == 5
                await post_complaint(intake, 6)
                assert await eventually(lambda: complaint_total(reporting), until=lambda t: t == 6, timeout=60) == 6
                # and none twice, even a while later
                assert await complaint_total(reporting) == 6
        # What the services put back is the whole history: a rebuild of reporting's views from it
        # (reporting stopped, as the rebuild requires) misses nothing the live views had applied.
        report = await stage(settings, wait_idle_s=10)
        try:
            assert report.complete, report.shortfalls
            classified = report.events["ComplaintClassified"]
            assert (classified["replayed"], classified["live"], classified["live_missing"]) == (6, 6, 0)
            assert report.producers["intake"]["missing"] == 0 and report.producers["routing"]["missing"] == 0
        finally:
            await drop_schema(settings, report.schema)
        warnings = [r for r in caplog.records if r.getMessage().startswith("broker lost event history")]
        assert warnings, "one warning line per service that noticed"
        for record in warnings:  # topic names and offsets only, never a complaint's text
            assert "漏水" not in record.getMessage() and "漏水" not in str(record.__dict__)


async def test_an_embedded_broker_restarted_under_the_services_loses_nothing(
    infra: Infrastructure, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:
    broker = EmbeddedKafka(log_path=tmp_path / "tansu.log").start()
    try:
        async with own_settings(infra, broker.bootstrap_servers) as settings:
            async def restart() -> None:
                broker.stop()
                broker.start()  # in memory: it comes back empty, same address, same cluster id

            await run_the_procedure(settings, restart, caplog)
    finally:
        broker.stop()


async def test_topics_deleted_and_created_again_lose_nothing(
    migrated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """On the suite's broker (Apache Kafka in CI): the test's topics are deleted and created again.
    Apache Kafka drops the consumer groups' assignments of the deleted topics; the consumers take the
    new ones when they next refresh the metadata (CARELOOP_KAFKA_METADATA_MAX_AGE_MS, 30 s by
    default; 2 s here)."""
    settings = migrated.model_copy(update={"kafka": KafkaSettings(
        **{**dict(migrated.kafka), "history_check_interval_s": 0.5, "metadata_max_age_ms": 2_000})})

    async def recreate() -> None:
        names = all_topics(settings.topic_prefix)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings))
        await admin.start()
        try:
            await admin.delete_topics(names)

            async def gone() -> int:
                return len(set(await admin.list_topics()) & set(names))

            await eventually(gone, until=lambda n: n == 0, timeout=60, every=0.2)
        finally:
            await admin.close()
        await ensure_topics(settings, names)

    await run_the_procedure(settings, recreate, caplog)
