"""The unit of work's deferred writes and inbox on the real PostgreSQL: the rows that go straight to
the driver are in the transaction like any other statement, and fail like any other statement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UnitOfWorkFactory
from shared.db.uow import ManyRows
from shared.messaging.consumer import is_transient
from shared.settings import Settings, to_asyncpg_url

pytestmark = pytest.mark.integration

metadata = sa.MetaData(schema="intake")
FACTS = sa.Table(
    "test_facts", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", sa.DateTime(timezone=True)),
)
TAGGED = sa.Table(  # a column SQLAlchemy converts on the way (JSON): not for the driver's path
    "test_tagged", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("detail", JSONB),
)
UPSERT = ManyRows(pg_insert(FACTS).on_conflict_do_update(
    index_elements=["id"], set_={"count": FACTS.c.count + pg_insert(FACTS).excluded.count}))
PLAIN = ManyRows(pg_insert(FACTS))
TAGS = ManyRows(pg_insert(TAGGED))


@pytest.fixture
async def factory(migrated: Settings):
    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=2)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield UnitOfWorkFactory(engine, schema="intake")
    await engine.dispose()


async def rows(factory: UnitOfWorkFactory, table: sa.Table) -> list[sa.Row]:
    async with factory.engine.connect() as conn:
        return list(await conn.execute(sa.select(table).order_by(table.c.id)))


def fact(id_: uuid.UUID, label: str = "a", count: int = 1) -> dict:
    return {"id": id_, "label": label, "count": count, "flag": None, "at": datetime(2026, 5, 1, tzinfo=UTC)}


async def test_the_drivers_path_is_taken_and_its_rows_commit_with_the_transaction(factory: UnitOfWorkFactory) -> None:
    from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

    assert UPSERT.native([fact(uuid.uuid4())], asyncpg_dialect.dialect()) is not None
    assert TAGS.native([{"id": uuid.uuid4(), "detail": {}}], asyncpg_dialect.dialect()) is None

    a, b = uuid.uuid4(), uuid.uuid4()
    async with factory() as uow:
        # the deferred rows are the transaction's first statement: it must begin before them
        uow.defer(UPSERT, fact(a), row=("fact", a))
        uow.defer(UPSERT, fact(b, count=2), row=("fact", b))
        uow.defer(UPSERT, fact(a, count=5), row=("fact", a))  # the same row again: a run of its own
        uow.defer(TAGS, {"id": a, "detail": {"k": "v"}}, row=("tagged", a))
        await uow.flush()
        await uow.session.execute(sa.insert(FACTS).values(**fact(uuid.UUID(int=0), label="core")))
        assert await uow.claim_many("test", [a, b]) == {a, b}
        assert await uow.claim_many("test", [a, uuid.UUID(int=1)]) == {uuid.UUID(int=1)}
        await uow.commit()
    assert {(r.id, r.count) for r in await rows(factory, FACTS)} == {(a, 6), (b, 2), (uuid.UUID(int=0), 1)}
    assert [r.detail for r in await rows(factory, TAGGED)] == [{"k": "v"}]

    async with factory() as uow:
        uow.defer(UPSERT, fact(a, count=100), row=("fact", a))
        await uow.flush()
        assert await uow.claim_many("test", [uuid.UUID(int=2)]) == {uuid.UUID(int=2)}
        # left without commit: rolled back, the driver's rows with the rest
    assert {(r.id, r.count) for r in await rows(factory, FACTS)} == {(a, 6), (b, 2), (uuid.UUID(int=0), 1)}
    async with factory() as uow:
        assert await uow.claim_many("test", [uuid.UUID(int=2)]) == {uuid.UUID(int=2)}  # not kept from before


async def test_a_failing_run_is_raised_as_sqlalchemy_raises_it_and_undoes_the_transaction(
    factory: UnitOfWorkFactory,
) -> None:
    a = uuid.uuid4()
    async with factory() as uow:
        uow.defer(PLAIN, fact(a), row=("fact", a))
        await uow.commit()
    with pytest.raises(sa.exc.IntegrityError) as raised:
        async with factory() as uow:
            b = uuid.uuid4()
            await uow.session.execute(sa.insert(FACTS).values(**fact(b, label="before")))
            uow.defer(PLAIN, fact(a, label="again"), row=("fact", a))  # the key exists: refused
            await uow.commit()
    assert raised.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    assert not is_transient(raised.value)  # a broken invariant, not the infrastructure's trouble
    assert "again" not in str(raised.value)  # parameters stay out of the message
    assert [r.label for r in await rows(factory, FACTS)] == ["a"]

    # the connection went back to the pool in a usable state
    async with factory() as uow:
        uow.defer(PLAIN, fact(uuid.uuid4(), label="after"), row=("fact", "after"))
        await uow.commit()
    assert sorted(r.label for r in await rows(factory, FACTS)) == ["a", "after"]


async def test_outbox_rows_keep_the_order_they_were_queued_in(factory: UnitOfWorkFactory) -> None:
    from shared.db.uow import OutboxMessage

    ids = [uuid.uuid4() for _ in range(50)]
    async with factory() as uow:
        for i, event_id in enumerate(ids):
            uow.publish_raw(OutboxMessage(topic=f"t{i % 3}", key=None if i % 7 == 0 else f"k{i}",
                                          payload=f"payload {i}".encode(), headers={"n": str(i), "名": "值"},
                                          event_id=event_id, event_type="Test"))
        await uow.commit()
    ob = factory.outbox
    async with factory.engine.connect() as conn:
        stored = list(await conn.execute(sa.select(ob.c.event_id, ob.c.topic, ob.c.key, ob.c.payload, ob.c.headers,
                                                   ob.c.published_at).order_by(ob.c.id)))
    assert [row.event_id for row in stored] == ids
    assert [row.payload for row in stored] == [f"payload {i}".encode() for i in range(50)]
    assert [row.headers for row in stored] == [{"n": str(i), "名": "值"} for i in range(50)]
    assert [row.key for row in stored][:2] == [None, "k1"] and {row.published_at for row in stored} == {None}


async def committed_facts(factory: UnitOfWorkFactory, count: int) -> list[uuid.UUID]:
    """``count`` facts labelled l0, l1, … with counts 0, 1, …, committed; their ids in order."""
    ids = [uuid.uuid4() for _ in range(count)]
    async with factory() as uow:
        for i, id_ in enumerate(ids):
            uow.defer(PLAIN, fact(id_, label=f"l{i}", count=i), row=("fact", id_))
        await uow.commit()
    return ids


async def test_fetch_gives_the_rows_sqlalchemy_gives_as_tuples(factory: UnitOfWorkFactory) -> None:
    ids = await committed_facts(factory, 5)
    query = sa.text(
        "SELECT s.n, f.id, f.label, f.count, f.at FROM unnest(CAST(:wanted AS uuid[])) WITH ORDINALITY AS s(id, n) "
        "JOIN intake.test_facts AS f ON f.id = s.id WHERE f.count >= :least ORDER BY s.n"
    ).bindparams(sa.bindparam("wanted", type_=sa.ARRAY(sa.Uuid)), sa.bindparam("least", value=2, type_=sa.Integer))
    wanted = [ids[4], ids[0], ids[3], uuid.uuid4()]
    async with factory() as uow:
        fetched = await uow.fetch(query, {"wanted": wanted})  # "least" as the statement binds it
        through_sqlalchemy = [tuple(row) for row in await uow.session.execute(query, {"wanted": wanted})]
    assert fetched == through_sqlalchemy
    assert [(n, id_, label, count) for n, id_, label, count, _at in fetched] == [
        (1, ids[4], "l4", 4), (3, ids[3], "l3", 3)]
    assert all(isinstance(row, tuple) for row in fetched)


async def test_fetch_refuses_a_list_in_an_in_clause_and_takes_it_as_an_array(factory: UnitOfWorkFactory) -> None:
    await committed_facts(factory, 3)
    expanding = sa.select(FACTS.c.label).where(FACTS.c.label.in_(["l0", "l2"]))  # rendered only at execution
    as_array = sa.select(FACTS.c.label).where(
        FACTS.c.label == sa.func.any(sa.bindparam("labels", ["l0", "l2"], type_=sa.ARRAY(sa.Text))))
    async with factory() as uow:
        with pytest.raises(ValueError, match="ANY"):
            await uow.fetch(expanding, {})
        assert sorted(await uow.fetch(as_array, {})) == [("l0",), ("l2",)]
        assert sorted(await uow.fetch(as_array, {"labels": ["l1"]})) == [("l1",)]


async def test_each_transaction_of_a_unit_of_work_is_its_own_on_the_drivers_path(factory: UnitOfWorkFactory) -> None:
    current = sa.text("SELECT txid_current()")
    first, second = uuid.uuid4(), uuid.uuid4()
    async with factory() as uow:
        one = await uow.fetch(current, {})
        uow.defer(PLAIN, fact(first), row=("fact", first))
        await uow.commit()
        two = await uow.fetch(current, {})  # a new transaction, on whichever connection it has now
        assert two != one
        assert await uow.fetch(current, {}) == two
        uow.defer(PLAIN, fact(second), row=("fact", second))
        await uow.flush()
        await uow.rollback()
        assert await uow.fetch(current, {}) not in (one, two)
    assert [row.id for row in await rows(factory, FACTS)] == [first]
