"""Receiving many submissions at once (the inbound consumer's batch path) has exactly the effects of
receiving them one by one: the same records, links, incident groups, retries and events.

Each workload goes through both paths on two databases of its own (real PostgreSQL); feedback and
customer ids are random in each, so the results are compared with every id replaced by the
external id of the submission it belongs to.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake import domain, service
from services.intake.app import create_app
from services.intake.registry import service as registry_service
from shared.db import UnitOfWorkFactory
from shared.events.inbound import ContactDetails, FeedbackSubmission
from shared.settings import Settings, to_asyncpg_url
from shared.testing.infra import create_database, drop_database
from shared.testing.registry import register_org_units
from shared.testing.services import migrate, publish_raw, read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED, INBOUND_FEEDBACK

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 29, 9, 0, tzinfo=UTC)
PROJECTS = ("lakeside", "hillview", "riverbank")
UNITS = ("1-1-101", "1-1-102", "2-3-1201", "5-2-0902", None)
TEXTS = ("卫生间吊顶渗水，楼上住户也说过", "电梯经常停在12楼不动", "外墙瓷砖脱落，差点砸到人",
         "门禁卡失灵，刷不开单元门", "物业费标准是怎么定的")
KINDS = ("complaint", "repair_request", "complaint", "inquiry", "suggestion", "praise")
CUSTOMERS = [uuid.UUID(int=i + 1) for i in range(3)]


def workload(seed: int, count: int, *, prefix: str) -> list[FeedbackSubmission]:
    """Submissions of few projects, units, customers and texts (so that duplicates, incident groups
    and their founders abound), some retried (same external id and content), some from a caller who
    must first be matched to a customer by phone."""
    rng = random.Random(seed)
    made: list[FeedbackSubmission] = []
    for i in range(count):
        if made and rng.random() < 0.12:
            made.append(rng.choice(made))  # a retry of an earlier submission
            continue
        project = rng.choice(PROJECTS)
        text = rng.choice(TEXTS) + rng.choice(("", "！", "，请尽快处理", f"（第{i}次反映）"))
        values: dict[str, Any] = {
            "kind": rng.choice(KINDS), "channel": rng.choice(("phone", "wechat", "web")), "text": text,
            "org": {"group": "hx", "subsidiary": "east", "project": project}, "project_id": project,
            "unit": rng.choice(UNITS), "source_system": "callcentre", "external_id": f"{prefix}-{i}",
            "received_at": NOW - timedelta(hours=30) + timedelta(minutes=7 * i + rng.randint(-20, 20)),
        }
        roll = rng.random()
        if roll < 0.25:
            values["customer_id"] = rng.choice(CUSTOMERS)
        elif roll < 0.35:
            values["contact"] = ContactDetails(name="王先生", phone=rng.choice(("13800138000", "13900139000")))
        made.append(FeedbackSubmission.model_validate(values))
    return made


class Intake:
    """Intake's schema in a database of its own, and its use cases wired as the app wires them."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_async_engine(to_asyncpg_url(settings.db.admin_url), pool_size=2)
        self.uow_factory = UnitOfWorkFactory(self.engine, schema="intake")
        self.wiring: dict[str, Any] = {
            "clock": lambda: NOW, "staff_required": False, "policy": domain.DuplicatePolicy(),
            "resolve_customer": registry_service.match_or_register_customer,
            "working_time": lambda moment, org: moment.hour < 12,
        }

    def correlation(self, submission: FeedbackSubmission) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"corr:{submission.external_id}")

    async def one_by_one(self, submissions: list[FeedbackSubmission]) -> list[service.Receipt]:
        async with self.uow_factory() as uow:
            receipts = [await service.receive_feedback(s, uow=uow, correlation_id=self.correlation(s),
                                                       defer_insert=True, **self.wiring) for s in submissions]
            await uow.commit()
        return receipts

    async def at_once(self, submissions: list[FeedbackSubmission]) -> list[service.Receipt]:
        async with self.uow_factory() as uow:
            receipts = await service.receive_feedback_batch(
                [(s, self.correlation(s)) for s in submissions], uow=uow, **self.wiring)
            await uow.commit()
        return receipts

    async def outcome(self, receipts: list[service.Receipt]) -> dict[str, Any]:
        """Records, events and receipts with every id replaced by the external id it belongs to."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
            rows = await driver.fetch("SELECT * FROM intake.feedback ORDER BY external_id")
            events = await driver.fetch("SELECT payload FROM intake.outbox WHERE event_type = 'FeedbackReceived'")
        name = {row["id"]: row["external_id"] for row in rows}
        customers: dict[Any, str] = {}
        for row in rows:
            if row["customer_id"] is not None:
                customers.setdefault(row["customer_id"], f"customer-of:{row['external_id']}")

        def plain(value: Any) -> Any:
            if isinstance(value, uuid.UUID):
                return name.get(value) or customers.get(value) or value
            if isinstance(value, str):
                try:
                    return plain(uuid.UUID(value))
                except ValueError:
                    return value
            return value

        skip = {"id", "created_at", "correlation_id"}
        records = {row["external_id"]: {k: plain(v) for k, v in row.items() if k not in skip} for row in rows}
        published = sorted(
            (json.dumps({k: plain(v) for k, v in json.loads(e["payload"])["data"].items()}, sort_keys=True,
                        ensure_ascii=False, default=str) for e in events)
        )
        answers = [(plain(r.feedback_id), r.created, plain(r.duplicate_of), plain(r.incident_group_id))
                   for r in receipts]
        return {"records": records, "events": published, "receipts": answers}

    async def close(self) -> None:
        await self.engine.dispose()


@pytest.fixture
async def two_intakes(infra: Any, migrated: Settings) -> Any:
    url = await create_database(infra.admin_url)
    other = migrated.model_copy(update={"db": migrated.db.model_copy(update={"admin_url": url})})
    await migrate(other, ["intake"])
    a, b = Intake(migrated), Intake(other)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        await drop_database(infra.admin_url, url)


def chunks(items: list[Any], sizes: Callable[[], int]) -> list[list[Any]]:
    out, i = [], 0
    while i < len(items):
        n = sizes()
        out.append(items[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_batch_has_the_effects_of_its_submissions_one_by_one(two_intakes: Any, seed: int) -> None:
    one, batch = two_intakes
    history = workload(seed, 40, prefix=f"h{seed}")
    # The same history in both databases, one by one: earlier feedback the batches link to.
    for intake in (one, batch):
        await intake.one_by_one(history)
    rng = random.Random(seed)
    transactions = chunks(workload(seed + 100, 160, prefix=f"w{seed}") + history[:5], lambda: rng.randint(1, 40))
    receipts_one, receipts_batch = [], []
    for submissions in transactions:
        receipts_one += await one.one_by_one(submissions)
        receipts_batch += await batch.at_once(submissions)
    expected, got = await one.outcome(receipts_one), await batch.outcome(receipts_batch)
    # the workload links: retries, duplicates, groups founded by earlier feedback, matched callers
    assert sum(not created for _, created, _, _ in expected["receipts"]) >= 10
    assert sum(r["duplicate_of"] is not None for r in expected["records"].values()) >= 10
    assert sum(r["incident_group_id"] is not None for r in expected["records"].values()) >= 10
    assert any(str(r["customer_id"]).startswith("customer-of:") for r in expected["records"].values())
    assert got["receipts"] == expected["receipts"]
    assert got["records"] == expected["records"]
    assert got["events"] == expected["events"]


async def test_a_retry_with_other_content_in_a_batch_is_refused(two_intakes: Any) -> None:
    intake, _ = two_intakes
    [first] = workload(7, 1, prefix="c")
    changed = first.model_copy(update={"text": first.text + "（内容不同）"})
    other = first.model_copy(update={"external_id": "c-other"})
    # within one batch
    with pytest.raises(domain.IdempotencyConflict):
        await intake.at_once([first, other, changed])
    # against what an earlier transaction committed
    assert (await intake.at_once([first]))[0].created
    with pytest.raises(domain.IdempotencyConflict):
        await intake.at_once([other, changed])
    [again] = await intake.at_once([first])
    assert not again.created


async def test_the_consumer_refuses_only_the_bad_submission_of_a_batch(migrated: Settings) -> None:
    def inbound(external_id: str, text: str, **overrides: object) -> bytes:
        message = {"source_system": "callcentre", "external_id": external_id, "kind": "complaint",
                   "channel": "phone", "text": text, "org": {"group": "hx", "subsidiary": "east",
                                                               "project": "lakeside"}, "unit": "3-1201"}
        message.update(overrides)
        return json.dumps(message, ensure_ascii=False).encode()

    await register_org_units(migrated, "hx", "hx/east", "hx/east/lakeside")
    # One partition, published before intake starts: the consumer gets them as one batch.
    for message in (
        inbound("R-1", "3栋1201卫生间漏水"),
        inbound("R-2", "3栋1201卫生间漏水！"),
        inbound("R-1", "完全不同的内容"),  # the same external id with other content: refused
        inbound("R-3", "未来的投诉", received_at="2099-01-01T08:00:00+08:00"),  # refused
        inbound("R-1", "3栋1201卫生间漏水"),  # a retry: nothing new
        inbound("R-4", "3栋1201卫生间还在漏水"),
    ):
        await publish_raw(migrated, INBOUND_FEEDBACK, message, key=b"one-batch")
    async with running_service(create_app(migrated)):
        dead = await read_topic(migrated, f"{INBOUND_FEEDBACK}.dlq", until=lambda r: len(r) >= 2)
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 3)
        await asyncio.sleep(1)  # nothing more comes
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 3)
    received = {e["data"]["external_id"]: e["data"] for e in (json.loads(r.value) for r in records)}
    assert len(records) == 3 and sorted(received) == ["R-1", "R-2", "R-4"]
    assert received["R-2"]["duplicate_of"] == received["R-1"]["feedback_id"]
    letters = {json.loads(r.value)["text"]: {k: v.decode() for k, v in r.headers} for r in dead}
    assert len(dead) == 2 and all(h["x-dlq-kind"] == "handler-failed" for h in letters.values())
    assert "idempotency conflict: ext:callcentre:R-1" in letters["完全不同的内容"]["x-dlq-reason"]
    assert "received_at" in letters["未来的投诉"]["x-dlq-reason"]
