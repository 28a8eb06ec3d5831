"""Engine, sessions and the unit of work: the only thing in CareLoop that commits."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as UUID_TYPE
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.db.tables import messaging_tables
from shared.events import Event
from shared.settings import Settings
from shared.topics import topic_for


def make_engine(url: str, settings: Settings, *, application_name: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.max_overflow,
        pool_pre_ping=settings.db.pool_pre_ping,
        echo=settings.db.echo,
        # Parameters can be contact details: keep them out of exception texts and logs.
        hide_parameters=True,
        connect_args={"server_settings": {"application_name": application_name}, **settings.db.connect_args()},
    )


def inbox_claim(inbox: sa.Table) -> sa.Executable:
    """``INSERT … SELECT :consumer, unnest(:event_ids) ON CONFLICT DO NOTHING RETURNING event_id``.

    Built once per inbox table: one round trip claims a whole batch, and an id repeated within the
    batch is claimed once.
    """
    ids = sa.func.unnest(sa.bindparam("event_ids", type_=ARRAY(UUID_TYPE(as_uuid=True))))
    return (
        pg_insert(inbox)
        .from_select(["consumer", "event_id"], sa.select(sa.bindparam("consumer", type_=sa.Text), ids))
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )


@dataclass(frozen=True)
class OutboxMessage:
    """A record to publish, for what is not an integration event of our own (e.g. a dead letter)."""

    topic: str
    key: str | None
    payload: bytes
    headers: dict[str, str]
    event_id: UUID
    event_type: str


class ManyRows:
    """An ``INSERT … [ON CONFLICT …]`` built without values, for :meth:`UnitOfWork.defer`: the rows of
    a run go out as one statement, ``INSERT … SELECT … FROM unnest(<one array per column>)``, which
    PostgreSQL applies in one execution instead of one per row.

    Within one such statement ``ON CONFLICT DO UPDATE`` may write a row once only; the deferred
    writes never put the same row twice in one run.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_columns: dict[tuple[str, ...], sa.Executable] = {}
        self._native: dict[tuple[Any, ...], tuple[str, tuple[str, ...]] | None] = {}

    def for_columns(self, columns: tuple[str, ...]) -> sa.Executable:
        form = self._by_columns.get(columns)
        if form is None:
            table = self.statement.table
            rows = (
                sa.func.unnest(*[sa.bindparam(c, type_=ARRAY(table.c[c].type)) for c in columns])
                .table_valued(*columns)
                .render_derived()
            )
            form = self.statement.from_select(list(columns), sa.select(*[rows.c[c] for c in columns]))
            self._by_columns[columns] = form
        return form

    def params(self, rows: list[dict[str, Any]]) -> tuple[sa.Executable, dict[str, list[Any]]]:
        """The statement for these rows (all with the same columns) and its arrays."""
        columns = tuple(rows[0])
        return self.for_columns(columns), {c: [row[c] for row in rows] for c in columns}

    def native(self, rows: list[dict[str, Any]], dialect: Any) -> tuple[str, list[list[Any]]] | None:
        """The statement for these rows as the driver's own SQL (``$1``… with a cast on each array)
        and its arrays in parameter order; None when a column needs SQLAlchemy to convert its
        values on the way (an enum, JSON), which the driver would not do."""
        columns = tuple(rows[0])
        key = (columns, dialect.name, dialect.driver)
        if key not in self._native:
            self._native[key] = self._compile(columns, dialect)
        form = self._native[key]
        if form is None:
            return None
        sql, order = form
        return sql, [[row[c] for row in rows] for c in order]

    def _compile(self, columns: tuple[str, ...], dialect: Any) -> tuple[str, tuple[str, ...]] | None:
        table = self.statement.table
        if dialect.driver != "asyncpg" or any(not _native_type(table.c[c].type) for c in columns):
            return None
        compiled = self.for_columns(columns).compile(dialect=dialect)
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(columns):  # something else took a parameter: leave it to SQLAlchemy
            return None
        return str(compiled), order


#: Column types whose Python values asyncpg encodes itself, exactly as SQLAlchemy would send them.
_NATIVE_TYPES = (sa.String, sa.Integer, sa.Boolean, sa.DateTime, sa.Date, sa.Uuid, UUID_TYPE)


def _native_type(type_: Any) -> bool:
    return isinstance(type_, _NATIVE_TYPES) and not isinstance(type_, sa.Enum)


class DeferredWrites:
    """Row writes grouped into runs of one statement each, executed in the order of the runs.

    A write joins the first run of its statement after the last run that writes the same row (or
    starts a new run at the end); so the writes to any one row happen in the order they were
    queued, and a run writes each row once.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[Any, list[dict[str, Any]], set[Hashable]]] = []
        self._last_run_of: dict[Hashable, int] = {}  # row -> the last run that writes it
        self._runs_of: dict[int, list[int]] = {}  # id(statement) -> its runs, in order

    def add(self, statement: Any, params: dict[str, Any], row: Hashable) -> None:
        # one lookup per write however many runs there are (a batch has a run per statement and step)
        runs_of_statement = self._runs_of.setdefault(id(statement), [])
        position = bisect_right(runs_of_statement, self._last_run_of.get(row, -1))
        if position < len(runs_of_statement):
            index = runs_of_statement[position]
            _, rows, names = self.runs[index]
            rows.append(params)
            names.add(row)
        else:
            index = len(self.runs)
            self.runs.append((statement, [params], {row}))
            runs_of_statement.append(index)
        self._last_run_of[row] = index


class UnitOfWork:
    """``async with uow_factory() as uow: ...; await uow.commit()``; leaving without commit rolls back.

    Events added with :meth:`publish` are written to the outbox in the same transaction as the
    state change; the relay publishes them after the commit.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        outbox: sa.Table,
        inbox: sa.Table,
        after_commit: Callable[[], None] | None = None,
        claim_statement: sa.Executable | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._inbox = inbox
        self._claim_statement = claim_statement if claim_statement is not None else inbox_claim(inbox)
        self._after_commit = after_commit
        self._pending: list[dict[str, Any]] = []
        self._deferred = DeferredWrites()
        self._bound: tuple[Any, Any, Any | None] | None = None
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._pending = []
        self._deferred = DeferredWrites()
        self._bound = None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects without
        # expiring them, so a use case can return what it read.
        self._pending = []
        self._deferred = DeferredWrites()
        self._bound = None
        await self.session.close()

    def defer(self, statement: sa.Executable | ManyRows, params: dict[str, Any], *, row: Hashable) -> None:
        """Queue a write of one row (``row`` names it: table and key) for :meth:`flush`.

        For statements that touch only the row they name and read nothing else, such as a
        projection's ``INSERT … ON CONFLICT (key) DO UPDATE`` of its own row: the writes to one row
        keep their order, writes to different rows may be reordered, so that the writes of many
        events go out as a few statements (an ``executemany``, or one statement for the whole run
        with :class:`ManyRows`). Commit flushes; a use case that reads what it deferred must
        :meth:`flush` first.
        """
        self._deferred.add(statement, params, row)

    async def flush(self) -> None:
        """Execute the deferred writes, in as few round trips as their order allows."""
        runs, self._deferred = self._deferred.runs, DeferredWrites()
        for statement, rows, _names in runs:
            if isinstance(statement, ManyRows):
                await self._execute_many_rows(statement, rows)
            else:
                await self.session.execute(statement, rows)

    async def _execute_many_rows(self, statement: ManyRows, rows: list[dict[str, Any]]) -> None:
        """One run of rows; straight on the driver's connection when its columns allow (the arrays
        then go to asyncpg as they are, instead of through SQLAlchemy's statement setup and its
        conversion of every element), in the unit of work's transaction either way."""
        connection, adapted = await self._connection()
        native = statement.native(rows, connection.dialect) if adapted is not None else None
        if native is None:
            await self.session.execute(*statement.params(rows))
            return
        sql, arrays = native
        await self._on_driver(connection, adapted, sql, lambda driver: driver.execute(sql, *arrays))

    async def _connection(self) -> tuple[Any, Any | None]:
        """The session's connection in this transaction and, where statements may go straight to
        the driver, SQLAlchemy's adapter around it (see ``_driver_adapter``); remembered for the
        transaction (asking the async session costs a greenlet switch or two each time)."""
        transaction = self.session.sync_session.get_transaction()
        if transaction is not None and self._bound is not None and self._bound[0] is transaction:
            return self._bound[1], self._bound[2]
        connection = await self.session.connection()
        adapted = await _driver_adapter(connection)
        self._bound = (self.session.sync_session.get_transaction(), connection, adapted)
        return connection, adapted

    async def _on_driver(self, connection: Any, adapted: Any, sql: str, call: Callable[[Any], Any]) -> Any:
        """``call(asyncpg connection)`` in this unit of work's transaction (begun first if this is
        its first statement), one statement at a time on the connection, as SQLAlchemy does it;
        a failure is raised as SQLAlchemy would raise it."""
        async with adapted._execute_mutex:
            try:
                if adapted._transaction is None:  # the transaction begins with its first statement
                    await adapted._start_transaction()
                return await call(adapted._connection)
            except Exception as error:
                raise _as_sqlalchemy_error(error, adapted, connection.dialect, sql) from error

    def publish(self, *events: Event) -> None:
        """Queue integration events for the outbox of this transaction."""
        for event in events:
            self._pending.append(
                {
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "topic": topic_for(event.event_type),
                    "key": event.aggregate_id,
                    "payload": event.to_json(),
                    "headers": {
                        "event_type": event.event_type,
                        "schema_version": str(event.schema_version),
                        "correlation_id": str(event.correlation_id),
                        "content-type": "application/json",
                    },
                }
            )

    def publish_raw(self, message: OutboxMessage) -> None:
        self._pending.append(
            {
                "event_id": message.event_id,
                "event_type": message.event_type,
                "topic": message.topic,
                "key": message.key,
                "payload": message.payload,
                "headers": message.headers,
            }
        )

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        """Record that ``consumer`` handles ``event_id`` in this transaction.

        Returns False when it was handled before (the caller must then do nothing).
        """
        return event_id in await self.claim_many(consumer, [event_id])

    async def claim_many(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        """Record that ``consumer`` handles each of ``event_ids`` in this transaction, in one statement.

        Returns the ids claimed now; an id handled before is left out (the caller must then do
        nothing with it). Every inbox claim goes through here, :meth:`claim` included.
        """
        if not event_ids:
            return set()
        connection, adapted = await self._connection()
        if adapted is not None:
            sql = _native_sql(self._claim_statement, connection.dialect, ("consumer", "event_ids"))
            rows = await self._on_driver(connection, adapted, sql,
                                         lambda driver: driver.fetch(sql, consumer, list(event_ids)))
            return {row[0] for row in rows}
        result = await self.session.execute(
            self._claim_statement, {"consumer": consumer, "event_ids": list(event_ids)}
        )
        return set(result.scalars())

    async def fetch(self, statement: sa.Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """A query's rows in this transaction as plain tuples, straight from the driver where it
        can (many rows without SQLAlchemy's per-row machinery), else through SQLAlchemy. For queries
        whose parameters the driver takes as they are (text, numbers, times, UUIDs, arrays of them)."""
        connection, adapted = await self._connection()
        if adapted is None:
            return [tuple(row) for row in await self.session.execute(statement, params)]
        sql, args = driver_statement(statement, connection.dialect, params)
        rows = await self._on_driver(connection, adapted, sql, lambda driver: driver.fetch(sql, *args))
        return [tuple(row) for row in rows]

    async def commit(self) -> None:
        await self.flush()
        wrote_outbox = bool(self._pending)
        if self._pending:
            await self._write_outbox(self._pending)
            self._pending = []
        await self.session.commit()
        if wrote_outbox and self._after_commit is not None:
            self._after_commit()

    async def _write_outbox(self, pending: list[dict[str, Any]]) -> None:
        """The transaction's outbox rows, in the order they were queued (their ids, the relay's
        order, follow it): one statement on the driver's connection, an ``executemany`` elsewhere."""
        connection, adapted = await self._connection()
        if adapted is None:
            await self.session.execute(sa.insert(self._outbox), pending)
            return
        sql = _outbox_sql(self._outbox, connection.dialect)
        arrays = (
            [row["event_id"] for row in pending], [row["event_type"] for row in pending],
            [row["topic"] for row in pending], [row["key"] for row in pending],
            [row["payload"] for row in pending], [json.dumps(row["headers"]) for row in pending],
        )
        await self._on_driver(connection, adapted, sql, lambda driver: driver.execute(sql, *arrays))

    async def rollback(self) -> None:
        self._pending = []
        self._deferred = DeferredWrites()
        await self.session.rollback()


class UnitOfWorkFactory:
    """Makes units of work on one service's schema; ``after_commit`` wakes the outbox relay."""

    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self.engine = engine
        self.schema = schema
        self.metadata = sa.MetaData(schema=schema)
        self.outbox, self.inbox = messaging_tables(self.metadata)
        self.claim_statement = inbox_claim(self.inbox)
        self.session_factory = async_sessionmaker(engine, expire_on_commit=False)
        self._listeners: list[Callable[[], None]] = []

    def on_outbox_write(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self.session_factory, outbox=self.outbox, inbox=self.inbox, after_commit=self._notify,
            claim_statement=self.claim_statement,
        )


#: What the driver's path uses of SQLAlchemy's asyncpg adapter (not public API: where a release
#: changes it, every statement simply goes through SQLAlchemy again).
_ADAPTER_PARTS = ("_execute_mutex", "_transaction", "_start_transaction", "_handle_exception", "_connection")


async def _driver_adapter(connection: Any) -> Any | None:
    """SQLAlchemy's adapter around the asyncpg connection when a statement may go straight to it:
    asyncpg, no schema translation, the adapter as this module knows it. None otherwise."""
    if not takes_driver_statements(connection):
        return None
    adapted = (await connection.get_raw_connection()).dbapi_connection
    return adapted if all(hasattr(adapted, part) for part in _ADAPTER_PARTS) else None


def takes_driver_statements(connection: Any) -> bool:
    """Whether statements may go to asyncpg as SQLAlchemy compiled them for it (``driver_statement``):
    asyncpg, and no schema translation (a rebuild into a fresh schema has SQLAlchemy rename them)."""
    return connection.dialect.driver == "asyncpg" and not _translates_schemas(connection)


def _translates_schemas(connection: Any) -> bool:
    """Whether the connection renders other schemas than the statements name (a rebuild into a fresh
    schema does): then SQLAlchemy, which does the renaming, runs the statement."""
    return bool(connection.sync_connection.get_execution_options().get("schema_translate_map"))


# (id of the statement, dialect) -> (the statement, kept so that its id is never reused; its SQL,
# its parameters' names in order, the values bound in the statement itself)
_native_forms: dict[tuple[int, str], tuple[Any, str, tuple[str, ...], dict[str, Any]]] = {}


def _native_form(statement: Any, dialect: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """``statement`` as the driver's SQL, the names of its positional parameters, their bound values."""
    key = (id(statement), dialect.name)
    cached = _native_forms.get(key)
    if cached is None:
        compiled = statement.compile(dialect=dialect)
        if "__[POSTCOMPILE_" in str(compiled):
            raise ValueError("the driver's path takes no expanding IN (a list given to in_()): use = ANY(array)")
        names = tuple(compiled.positiontup or ())
        bound = {name: compiled.binds[name].value for name in names if name in compiled.binds}
        cached = _native_forms[key] = (statement, str(compiled), names, bound)
    return cached[1], cached[2], cached[3]


def driver_statement(statement: Any, dialect: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """``statement`` as the driver's SQL (compiled once) and its arguments in order: each from
    ``params`` by name, else the value bound in the statement itself. For parameters the driver
    takes as they are (text, numbers, times, UUIDs, arrays of them)."""
    sql, names, bound = _native_form(statement, dialect)
    return sql, [params[name] if name in params else bound[name] for name in names]


def _native_sql(statement: Any, dialect: Any, order: tuple[str, ...]) -> str:
    """``statement`` as the driver's SQL, its parameters in ``order``."""
    sql, names, _bound = _native_form(statement, dialect)
    if names != order:
        raise RuntimeError(f"unexpected parameters {names} (wanted {order})")
    return sql


_outbox_sql_cache: dict[str, str] = {}


def _outbox_sql(outbox: sa.Table, dialect: Any) -> str:
    name = dialect.identifier_preparer.format_table(outbox)
    sql = _outbox_sql_cache.get(name)
    if sql is None:
        sql = _outbox_sql_cache[name] = (
            f"INSERT INTO {name} (event_id, event_type, topic, key, payload, headers) "
            "SELECT e, t, tp, k, p, h FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], "
            "$6::jsonb[]) WITH ORDINALITY AS r(e, t, tp, k, p, h, n) ORDER BY n"
        )
    return sql


def _as_sqlalchemy_error(error: Exception, adapted: Any, dialect: Any, sql: str) -> Exception:
    """A driver error as SQLAlchemy raises it from ``execute`` (``sqlalchemy.exc.IntegrityError``
    and so on, with the SQLSTATE on ``orig``), parameters hidden."""
    try:
        adapted._handle_exception(error)  # raises the DBAPI form of it
    except Exception as dbapi_error:
        base = dialect.loaded_dbapi.Error
        if isinstance(dbapi_error, base):
            return sa_exc.DBAPIError.instance(sql, None, dbapi_error, base, hide_parameters=True, dialect=dialect)
        return dbapi_error
    return error


__all__ = ["DeferredWrites", "ManyRows", "OutboxMessage", "UnitOfWork", "UnitOfWorkFactory", "inbox_claim", "make_engine"]
