"""Intake on the real broker and PostgreSQL: every channel and kind, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from services.intake.app import create_app
from shared.events.vocabulary import Channel, FeedbackKind
from shared.settings import Settings
from shared.testing.registry import register_org_units
from shared.testing.services import publish_raw, read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED, INBOUND_FEEDBACK

pytestmark = pytest.mark.integration

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


def body(text: str, **overrides: object) -> dict:
    values: dict[str, object] = {"kind": "complaint", "channel": "phone", "text": text, "received_by": "cs-1",
                                 "org": ORG}
    values.update(overrides)
    return values


def events_with(records: list, text: str) -> list[dict]:
    return [e for e in (json.loads(r.value) for r in records) if e["data"]["text"] == text]


async def feedback_rows(settings: Settings, text: str) -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM intake.feedback WHERE text = $1", text)
    finally:
        await conn.close()


async def test_every_channel_and_every_kind_is_received(migrated: Settings) -> None:
    posted: dict[str, tuple[str, str]] = {}
    async with running_service(create_app(migrated)) as intake:
        for channel in Channel:
            text = f"channel {channel.value}: 3栋漏水"
            response = await intake.post("/api/v1/feedback", json=body(text, channel=channel.value))
            assert response.status_code == 201, response.text
            posted[text] = ("complaint", channel.value)
        for kind in FeedbackKind:
            text = f"kind {kind.value}: 物业服务"
            response = await intake.post("/api/v1/feedback", json=body(text, kind=kind.value, channel="web"))
            assert response.status_code == 201, response.text
            posted[text] = (kind.value, "web")
        stored = (await intake.get(f"/api/v1/feedback/{response.json()['feedback_id']}")).json()
        assert stored["received_by"] == "cs-1" and stored["org"] == ORG
        # the last one: a survey remark through the web, named as people read it
        assert (stored["kind"], stored["kind_name"], stored["channel_name"]) == ("survey_remark", "调查意见", "网站")
        english = (await intake.get(f"/api/v1/feedback/{stored['feedback_id']}", params={"lang": "en"})).json()
        assert (english["kind_name"], english["channel_name"]) == ("Survey remark", "Web")
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= len(posted))
    seen = {e["data"]["text"]: (e["data"]["kind"], e["data"]["channel"]) for e in map(json.loads, (r.value for r in records))}
    assert seen == posted


async def test_a_burst_of_the_same_submission_yields_one_record_and_one_event(migrated: Settings) -> None:
    text = "同一投诉重复提交"
    async with running_service(create_app(migrated)) as intake:
        key = str(uuid.uuid4())
        responses = await asyncio.gather(*(
            intake.post("/api/v1/feedback", json=body(text), headers={"Idempotency-Key": key}) for _ in range(100)
        ))
        assert sorted({r.status_code for r in responses}) == [200, 201]
        assert sum(r.status_code == 201 for r in responses) == 1
        assert len({r.json()["feedback_id"] for r in responses}) == 1

        reused = await intake.post("/api/v1/feedback", json=body("另一件事"), headers={"Idempotency-Key": key})
        assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused"

        sentinel = await intake.post("/api/v1/feedback", json=body("哨兵"))
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: bool(events_with(r, "哨兵")))
        assert sentinel.status_code == 201
    assert len(events_with(records, text)) == 1
    assert await feedback_rows(migrated, text) == 1


async def test_likely_duplicates_and_incident_groups_are_linked_never_dropped(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as intake:
        first = (await intake.post("/api/v1/feedback", json=body("3栋1201卫生间漏水，天花板滴水", unit="3-1201"))).json()
        again = (await intake.post("/api/v1/feedback",
                                   json=body("3栋1201卫生间漏水,天花板滴水!", unit="3-1201", channel="wechat"))).json()
        assert again["created"] and again["feedback_id"] != first["feedback_id"]
        assert again["duplicate_of"] == first["feedback_id"]

        roof = [(await intake.post("/api/v1/feedback",
                                   json=body("3栋顶楼屋面漏水，雨天渗到家里", unit=f"3-180{i}"))).json() for i in range(1, 4)]
        group = roof[0]["feedback_id"]
        assert roof[0]["incident_group_id"] is None  # nobody else had reported it yet
        assert [r["incident_group_id"] for r in roof[1:]] == [group, group]
        founder = (await intake.get(f"/api/v1/feedback/{group}")).json()
        assert founder["incident_group_id"] == group  # the first report joins its own group
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 5)
    by_id = {e["data"]["feedback_id"]: e["data"] for e in map(json.loads, (r.value for r in records))}
    assert by_id[again["feedback_id"]]["duplicate_of"] == first["feedback_id"]
    assert by_id[roof[2]["feedback_id"]]["incident_group_id"] == group


async def test_inbound_topic_validates_like_http_and_dead_letters_what_it_refuses(migrated: Settings) -> None:
    def inbound(external_id: str, **overrides: object) -> bytes:
        message = {"source_system": "callcentre", "external_id": external_id, "kind": "repair_request",
                   "channel": "phone", "text": f"来电报修 {external_id}", "org": ORG,
                   "contact": {"name": "王先生", "phone": "138 0013 8000"}}
        message.update(overrides)
        return json.dumps(message, ensure_ascii=False).encode()

    await register_org_units(migrated, "hx", "hx/east", "hx/east/lakeside")
    async with running_service(create_app(migrated)):
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-1"))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-1"))  # redelivered by the call centre
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-2", channel="pigeon"))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-3", source_system="unknown-crm"))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-4", contact={"phone": "12"}))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-5"))
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: bool(events_with(r, "来电报修 CC-5")))
        dead = await read_topic(migrated, f"{INBOUND_FEEDBACK}.dlq", until=lambda r: len(r) >= 3)
    received = [json.loads(r.value)["data"] for r in records]
    assert sorted(d["external_id"] for d in received) == ["CC-1", "CC-5"]
    assert all(d["received_by"] == "system:callcentre" and d["source_system"] == "callcentre" for d in received)
    assert all("13800138000" not in r.value.decode() for r in records)  # contact details stay in intake
    reasons = {json.loads(r.value)["external_id"]: dict((k, v.decode()) for k, v in r.headers) for r in dead}
    assert reasons["CC-2"]["x-dlq-kind"] == "schema-invalid" and "channel" in reasons["CC-2"]["x-dlq-reason"]
    assert reasons["CC-3"]["x-dlq-kind"] == "rejected-source" and "unknown-crm" in reasons["CC-3"]["x-dlq-reason"]
    assert reasons["CC-4"]["x-dlq-kind"] == "schema-invalid" and "contact.phone" in reasons["CC-4"]["x-dlq-reason"]
    assert "not a valid" in reasons["CC-4"]["x-dlq-reason"]
    assert await feedback_rows(migrated, "来电报修 CC-1") == 1


async def test_inbound_submissions_of_one_batch_are_linked_as_if_they_came_one_by_one(migrated: Settings) -> None:
    def inbound(external_id: str, text: str, **overrides: object) -> bytes:
        message = {"source_system": "callcentre", "external_id": external_id, "kind": "complaint",
                   "channel": "phone", "text": text, "org": ORG}
        message.update(overrides)
        return json.dumps(message, ensure_ascii=False).encode()

    await register_org_units(migrated, "hx", "hx/east", "hx/east/lakeside")
    # Published before intake starts, on one partition: the consumer takes them as one batch, in order.
    for external_id, text, overrides in [
        ("B-1", "5栋1102厨房下水道堵塞，污水倒灌", {"unit": "5-1102"}),
        ("B-2", "5栋1102厨房下水道堵塞,污水倒灌!", {"unit": "5-1102", "channel": "wechat"}),
        ("B-3", "5栋电梯困人，按警铃无人应答", {"unit": "5-0301", "kind": "repair_request"}),
        ("B-4", "5栋电梯困人，按警铃无人应答！", {"unit": "5-0902"}),
        ("B-5", "5栋1102厨房下水道堵塞，污水倒灌", {"kind": "inquiry"}),  # no unit, no customer: never linked
    ]:
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound(external_id, text, **overrides), key=b"one-batch")
    async with running_service(create_app(migrated)):
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 5)
    by_external = {e["data"]["external_id"]: e["data"] for e in map(json.loads, (r.value for r in records))}
    assert sorted(by_external) == ["B-1", "B-2", "B-3", "B-4", "B-5"]
    first, leak_again = by_external["B-1"], by_external["B-2"]
    assert first["duplicate_of"] is None and leak_again["duplicate_of"] == first["feedback_id"]
    founder = by_external["B-3"]["feedback_id"]
    assert by_external["B-4"]["incident_group_id"] == founder
    assert by_external["B-5"]["duplicate_of"] is None and by_external["B-5"]["incident_group_id"] is None
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        assert await conn.fetchval("SELECT incident_group_id FROM intake.feedback WHERE id = $1",
                                   uuid.UUID(founder)) == uuid.UUID(founder)
    finally:
        await conn.close()


async def test_concurrent_submissions_are_recorded_together_each_with_its_own_answer_and_audit_row(
    migrated: Settings,
) -> None:
    """Requests arriving together share a transaction (group commit); a refused one among them is
    refused alone, the others are taken, and each taken request has its audit row."""
    texts = [f"并发提交 {i}: 5栋地下室渗水" for i in range(40)]
    app = create_app(migrated)
    writer = app.state.feedback_writer
    async with running_service(app) as intake:
        key = str(uuid.uuid4())
        requests = [intake.post("/api/v1/feedback", json=body(text)) for text in texts]
        # the same key twice (one record, one retry), a receiver missing, a time in the future
        requests += [intake.post("/api/v1/feedback", json=body("带键的提交"), headers={"Idempotency-Key": key})
                     for _ in range(2)]
        requests.append(intake.post("/api/v1/feedback", json=body("未来的提交", received_at="2999-01-01T00:00:00Z")))
        responses = await asyncio.gather(*requests)
        statuses = [r.status_code for r in responses]
        assert statuses[:40] == [201] * 40, [r.text for r in responses[:40] if r.status_code != 201]
        assert sorted(statuses[40:42]) == [200, 201]
        assert responses[40].json()["feedback_id"] == responses[41].json()["feedback_id"]
        assert statuses[42] == 422
        assert responses[42].json()["fields"] == [{"field": "received_at", "reason": "接收时间晚于当前时间"}]
        # they were not taken one transaction each
        assert writer.items == len(requests) and writer.batches < len(requests) / 2
        assert writer.fallbacks >= 1  # the batch holding the refused one was taken again one by one

        sentinel = await intake.post("/api/v1/feedback", json=body("哨兵2"))
        assert sentinel.status_code == 201
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: bool(events_with(r, "哨兵2")))
    for text in texts:
        assert len(events_with(records, text)) == 1
        assert await feedback_rows(migrated, text) == 1
    assert len(events_with(records, "带键的提交")) == 1 and not events_with(records, "未来的提交")
    conn = await asyncpg.connect(migrated.db.admin_url)
    try:
        audited = await conn.fetch(
            "SELECT correlation_id FROM intake.audit_log WHERE action = 'POST /api/v1/feedback'")
    finally:
        await conn.close()
    taken = [r for r in responses if r.status_code in (200, 201)] + [sentinel]
    # one audit row per request taken (the retry included), none for the refused one
    assert sorted(str(row["correlation_id"]) for row in audited) == sorted(r.json()["correlation_id"] for r in taken)


async def test_a_started_service_keeps_its_start_up_objects_out_of_the_collectors_way(migrated: Settings) -> None:
    import gc

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    async with running_service(create_app(migrated)):
        assert gc.get_freeze_count() > 10_000  # the modules, the app, its models: frozen at start
        assert gc.get_threshold() == migrated.gc_thresholds == (10_000, 20, 10)
