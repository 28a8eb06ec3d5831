"""The rebuild of reporting's views on the real broker and PostgreSQL: it never replaces the live
views with views built from less history, it swaps only when confirmed, keeps the schema it
replaced and can swap it back.

The numbers are worked out by hand: 13 complaints are 26 events (a CaseOpened on ``case.opened``
and a ComplaintClassified on ``complaint.classified`` each), all of them in routing's outbox as
published (as routing's relay would have left them) and all consumed by the live views.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.reporting.app import create_app
from services.reporting.rebuild import (
    CONSUMER,
    PREVIOUS,
    RebuildRefused,
    confirm,
    drop_schema,
    list_schemas,
    rebuild,
    rollback,
    stage,
)
from shared.events import ComplaintClassified, ComplaintClassifiedData, Event, OrgPath
from shared.events.cases import CaseOpened, CaseOpenedData
from shared.messaging.kafka import bootstrap, ensure_topics, make_producer
from shared.settings import Settings
from shared.testing.services import eventually, running_service
from shared.topics import topic_for

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=CN)
LAKESIDE = OrgPath(group="hx", subsidiary="east", project="lakeside")
TOPICS = ("case.opened", "complaint.classified")


def complaint(n: int) -> list[Event]:
    case, feedback, at = uuid.uuid4(), uuid.uuid4(), T0 + timedelta(hours=n)
    common: dict[str, Any] = {"org": LAKESIDE, "aggregate_id": case, "occurred_at": at, "producer": "routing",
                              "correlation_id": case}
    return [
        CaseOpened.create(data=CaseOpenedData(case_id=case, feedback_id=feedback, kind="complaint", received_at=at,
                                              first_contact_owner="cs-1"), **common),
        ComplaintClassified.create(data=ComplaintClassifiedData(
            case_id=case, feedback_id=feedback, category="product_quality", complaint_class=2, valid=False,
            important=False, confidence=0.9, rules_version="t", lead_department="engineering_quality",
            received_at=at), **common),
    ]


async def publish_from_routing(settings: Settings, events: list[Event], *, outbox: bool = True) -> None:
    """Publish as routing's relay does, leaving the rows in routing's outbox marked published."""
    producer = make_producer(settings, client_id="test-routing")
    await producer.start()
    try:
        for event in events:
            await producer.send(f"{settings.topic_prefix}{topic_for(event.event_type)}", event.to_json(),
                                key=event.key)
        await producer.flush()
    finally:
        await producer.stop()
    if not outbox:
        return
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        await conn.executemany(
            "INSERT INTO routing.outbox (event_id, event_type, topic, key, payload, published_at) "
            "VALUES ($1, $2, $3, $4, $5, now())",
            [(e.event_id, e.event_type, topic_for(e.event_type), str(e.aggregate_id), e.to_json()) for e in events])
    finally:
        await conn.close()


async def complaints_in(settings: Settings, schema: str = "reporting") -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return int(await conn.fetchval(
            f"SELECT count(*) FROM {schema}.case_facts WHERE kind = 'complaint' AND complaint_class = 2"))
    finally:
        await conn.close()


async def live_for_a_while(settings: Settings, *, complaints: int) -> None:
    """Run the reporting service until its monthly summary counts ``complaints``, then stop it."""
    async with running_service(create_app(settings)) as reporting:
        async def counted() -> int:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": "hx"})
            assert r.status_code == 200, r.text
            return int(r.json()["complaints"])

        assert await eventually(counted, until=lambda n: n == complaints, timeout=60) == complaints
        await asyncio.sleep(1.5)  # let the consumer commit its offsets


async def lose_history(settings: Settings) -> None:
    """What a restarted in-memory broker or a recreated topic does: the topics come back empty."""
    names = [f"{settings.topic_prefix}{t}" for t in TOPICS]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()
    for _ in range(60):  # deletion completes in the background on Apache Kafka
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings))
        await admin.start()
        try:
            if not set(names) & set(await admin.list_topics()):
                break
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    await ensure_topics(settings, names)


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *argv: str) -> tuple[int, str, str]:
    from shared import cli as careloop

    monkeypatch.setattr(careloop, "_settings", lambda: settings)
    code = careloop.main(["rebuild-reporting", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_a_rebuild_after_the_broker_lost_history_refuses_and_the_live_views_keep_their_13_complaints(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    thirteen = [e for n in range(13) for e in complaint(n)]
    await publish_from_routing(migrated, thirteen)
    await live_for_a_while(migrated, complaints=13)

    await lose_history(migrated)
    # a producer sends 5 of the complaints again (e.g. from what it still had): 10 of the 26 events
    await publish_from_routing(migrated, thirteen[:10], outbox=False)

    code, out, err = await asyncio.to_thread(cli, migrated, monkeypatch, capsys)
    assert code == 3
    report = json.loads(out[:out.rindex("}") + 1])
    assert report["complete"] is False and report["swapped"] is False
    # read: 5 CaseOpened and 5 ComplaintClassified; the live views had applied 13 of each
    assert report["records"] == 10 and report["projected"] == 10
    assert report["events"] == {
        "CaseOpened": {"replayed": 5, "live": 13, "live_missing": 8},
        "ComplaintClassified": {"replayed": 5, "live": 13, "live_missing": 8},
    }
    assert (report["live_events"], report["live_events_missing"]) == (26, 16)
    # routing's outbox: 26 published to these topics, 16 of them not on the topics any more
    assert report["producers"]["routing"] == {
        "published": 26, "missing": 16,
        "topics": {"case.opened": {"published": 13, "missing": 8},
                   "complaint.classified": {"published": 13, "missing": 8}}}
    assert sum(p["records"] for p in report["partitions"]) == 10
    assert "现有视图已处理的 8 个 CaseOpened 事件不在主题中" in err
    assert "routing 的 outbox 记录已发布到 case.opened 的 8 个事件不在主题中" in err
    assert "拒绝替换现有视图" in err and "--accept-missing-history" in err
    # the live views are untouched
    assert await complaints_in(migrated) == 13

    # not swappable with --confirm alone, whether in one step or by its id
    code, _out, err = await asyncio.to_thread(cli, migrated, monkeypatch, capsys, "--confirm", report["rebuild_id"])
    assert code == 2 and f"历史不完整（{len(report['shortfalls'])} 项缺失）" in err
    # 2 event types and routing's 2 topics short, and each partition whose end is now below the
    # offset the live group had committed (where the broker kept the group's offsets)
    behind = [p for p in report["partitions"] if p["live_committed"] is not None and p["end"] < p["live_committed"]]
    assert len(report["shortfalls"]) == 4 + len(behind)
    once = await rebuild(migrated, confirm=True, now=datetime(2026, 6, 1, 1, 0, tzinfo=CN))
    assert not once.swapped and not once.complete
    assert await complaints_in(migrated) == 13
    assert not [s for s in await list_schemas(migrated) if s["kind"] == "previous"]

    # the operator accepts the loss: swapped in, and the 13 are kept in the previous schema
    swapped = await confirm(migrated, report["rebuild_id"], accept_missing_history=True,
                            now=datetime(2026, 6, 1, 2, 0, tzinfo=CN))
    assert swapped.swapped and swapped.previous_schema and swapped.previous_schema.startswith(PREVIOUS)
    assert await complaints_in(migrated) == 5
    assert await complaints_in(migrated, swapped.previous_schema) == 13
    # and swapped back
    assert await rollback(migrated, now=datetime(2026, 6, 1, 3, 0, tzinfo=CN)) == "reporting_previous_20260531t190000z"
    assert await complaints_in(migrated) == 13


async def test_a_rebuild_swaps_only_when_confirmed_keeps_the_old_schema_and_rolls_back(migrated: Settings) -> None:
    thirteen = [e for n in range(13) for e in complaint(n)]
    await publish_from_routing(migrated, thirteen)
    await live_for_a_while(migrated, complaints=13)
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        live_oid = await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = 'reporting'")
        # a published report is no event's projection: the swap carries it over
        await conn.execute(
            "INSERT INTO reporting.published_reports VALUES ('monthly_summary', '2026-05', 'hx', 1, $1, "
            "'{\"complaints\": 13}', 'x', now())", uuid.uuid4())
        # and so is the outbox (its row ids go on from where they were)
        outbox_row = await conn.fetchrow(
            "INSERT INTO reporting.outbox (event_id, event_type, topic, payload, published_at) "
            "VALUES ($1, 'ReportPublished', 'report.published', '\\x7b7d', now()) RETURNING id, event_id",
            uuid.uuid4())
    finally:
        await conn.close()

    staged = await stage(migrated, now=datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    assert staged.complete and staged.shortfalls == [] and not staged.swapped
    assert staged.rebuild_id == "20260601t010000z" and staged.schema == "reporting_rebuild_20260601t010000z"
    assert staged.records == 26 and staged.projected == 26
    assert staged.events == {"CaseOpened": {"replayed": 13, "live": 13, "live_missing": 0},
                             "ComplaintClassified": {"replayed": 13, "live": 13, "live_missing": 0}}
    assert staged.producers["routing"]["published"] == 26 and staged.producers["routing"]["missing"] == 0
    by_topic: dict[str, int] = {}
    for p in staged.partitions:
        by_topic[p.topic.removeprefix(migrated.topic_prefix)] = by_topic.get(
            p.topic.removeprefix(migrated.topic_prefix), 0) + p.records
        assert p.earliest == 0 and (p.live_committed or 0) <= p.end
        assert p.records == (0 if p.first_read is None else p.last_read - p.first_read + 1)  # type: ignore[operator]
    # every topic the views read, two of them holding records
    assert {t: n for t, n in by_topic.items() if n} == {"case.opened": 13, "complaint.classified": 13}
    assert "历史完整" in staged.summary() and "--confirm 20260601t010000z" in staged.summary()
    # staged only: the live schema is the same one, the rebuild sits beside it
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        assert await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = 'reporting'") == live_oid
    finally:
        await conn.close()
    assert await complaints_in(migrated, staged.schema) == 13

    # two complaints arrive while the service is stopped: the confirmation catches up with them
    await publish_from_routing(migrated, complaint(20) + complaint(21))
    swapped = await confirm(migrated, staged.rebuild_id, now=datetime(2026, 6, 1, 9, 5, tzinfo=CN))
    assert swapped.swapped and swapped.previous_schema == "reporting_previous_20260601t010500z"
    assert await complaints_in(migrated) == 15
    assert await complaints_in(migrated, swapped.previous_schema) == 13  # the old views, kept as they were
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        assert await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = $1",
                                   swapped.previous_schema) == live_oid
        assert await conn.fetch("SELECT kind, revision, content FROM reporting.published_reports") == [
            ("monthly_summary", 1, '{"complaints": 13}')]
        assert await conn.fetch("SELECT id, event_id FROM reporting.outbox") == [outbox_row]
        assert await conn.fetchval(
            "INSERT INTO reporting.outbox (event_id, event_type, topic, payload, published_at) "
            "VALUES ($1, 'ReportPublished', 'report.published', '\\x7b7d', now()) RETURNING id",
            uuid.uuid4()) > outbox_row["id"]
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'reporting' "
                                   "AND tablename = 'rebuild_scan'") == 0
        assert await conn.fetchval("SELECT count(*) FROM reporting.inbox WHERE consumer = $1", CONSUMER) == 30
    finally:
        await conn.close()
    with pytest.raises(RebuildRefused, match="没有待确认的重建"):
        await confirm(migrated, staged.rebuild_id)

    # the service, started on the new views, skips what the confirmation applied: still 15
    await live_for_a_while(migrated, complaints=15)
    assert await complaints_in(migrated) == 15

    # rolled back: the old views catch up with the 2 complaints consumed since they were set aside
    kept = await rollback(migrated, now=datetime(2026, 6, 1, 9, 10, tzinfo=CN))
    assert kept == "reporting_previous_20260601t011000z"
    assert await complaints_in(migrated) == 15
    assert await complaints_in(migrated, kept) == 15
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        assert await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = 'reporting'") == live_oid
    finally:
        await conn.close()
    listed = await list_schemas(migrated)
    assert [s["schema"] for s in listed] == ["reporting_previous_20260601t011000z"]
    with pytest.raises(RebuildRefused, match="只能删除"):
        await drop_schema(migrated, "reporting")  # never the live views
    await drop_schema(migrated, kept)
    assert await list_schemas(migrated) == []
    await live_for_a_while(migrated, complaints=15)
