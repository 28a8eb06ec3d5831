"""Real infrastructure for tests: a broker and a PostgreSQL server, chosen by one switch.

``CARELOOP_TEST_INFRA`` decides (default ``auto``):

* ``env`` — a broker named (see below) and ``CARELOOP_TEST_DB_ADMIN_URL`` (a real Apache Kafka,
  a managed PostgreSQL…);
* ``docker`` — testcontainers (Apache Kafka and PostgreSQL images) on a reachable Docker engine;
* ``embedded`` — the Tansu broker and embedded PostgreSQL of :mod:`shared.devstack`;
* ``kafka`` — an external broker (e.g. a real Apache Kafka), with the PostgreSQL of
  ``CARELOOP_TEST_DB_ADMIN_URL`` when set, else the embedded one;
* ``auto`` — ``env`` when a broker and ``CARELOOP_TEST_DB_ADMIN_URL`` are named, else ``kafka``
  when a broker is named, else ``docker`` when an engine answers, else ``embedded``.

A broker is named for the tests as for the services: ``CARELOOP_KAFKA_BOOTSTRAP_SERVERS``
(``CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS`` and ``KAFKA_BOOTSTRAP_SERVERS`` are accepted aliases,
in that order after it).

Each test then gets its own topic prefix and its own database, so tests cannot leak into each
other.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.devstack import FETCH_MAX_WAIT_MS, EmbeddedKafka, EmbeddedPostgres
from shared.testing.auth import test_auth_settings
from shared.settings import DatabaseSettings, KafkaSettings, Settings, with_database


#: Where the tests read the broker from, first match wins: the services' variable, then aliases.
BROKER_VARIABLES = ("CARELOOP_KAFKA_BOOTSTRAP_SERVERS", "CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS",
                    "KAFKA_BOOTSTRAP_SERVERS")


@dataclass(frozen=True)
class Infrastructure:
    kind: str
    bootstrap_servers: str
    admin_url: str  # postgresql://… on the maintenance database


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def choose_kind() -> str:
    kind = os.environ.get("CARELOOP_TEST_INFRA", "auto")
    if kind != "auto":
        return kind
    if external_bootstrap_servers() and os.environ.get("CARELOOP_TEST_DB_ADMIN_URL"):
        return "env"
    if external_bootstrap_servers():
        return "kafka"
    return "docker" if _docker_answers() else "embedded"


def external_bootstrap_servers() -> str | None:
    """The external broker the tests and benchmarks were pointed at, if any: the services' own
    variable first, then the two aliases (see the module's docstring)."""
    for name in BROKER_VARIABLES:
        if value := os.environ.get(name, "").strip():
            return value
    return None


@contextlib.contextmanager
def provide_infrastructure() -> Iterator[Infrastructure]:
    kind = choose_kind()
    if kind == "env":
        yield Infrastructure(
            kind, external_bootstrap_servers() or "", os.environ["CARELOOP_TEST_DB_ADMIN_URL"]
        )
    elif kind == "docker":
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka, PostgresContainer(
            "postgres:17-alpine", username="postgres", password="postgres", dbname="postgres"
        ) as pg:
            url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
            yield Infrastructure(kind, kafka.get_bootstrap_server(), url)
    elif kind == "kafka":
        servers = external_bootstrap_servers()
        if not servers:
            raise ValueError("CARELOOP_TEST_INFRA=kafka needs CARELOOP_KAFKA_BOOTSTRAP_SERVERS")
        if admin_url := os.environ.get("CARELOOP_TEST_DB_ADMIN_URL"):
            yield Infrastructure(kind, servers, admin_url)
        else:
            with tempfile.TemporaryDirectory(prefix="careloop-test-") as tmp:
                pg = EmbeddedPostgres(Path(tmp) / "pgdata", database="postgres").start()
                try:
                    yield Infrastructure(kind, servers, pg.admin_url)
                finally:
                    pg.stop()
    elif kind == "embedded":
        with tempfile.TemporaryDirectory(prefix="careloop-test-") as tmp:
            kafka = EmbeddedKafka(log_path=Path(tmp) / "tansu.log").start()
            pg = EmbeddedPostgres(Path(tmp) / "pgdata", database="postgres").start()
            try:
                yield Infrastructure(kind, kafka.bootstrap_servers, pg.admin_url)
            finally:
                kafka.stop()
                pg.stop()
    else:
        raise ValueError(f"CARELOOP_TEST_INFRA={kind!r}: use auto, env, kafka, docker or embedded")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def create_database(admin_url: str) -> str:
    """A fresh database for one test; returns its admin URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[-1].split("?")[0]
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def delete_test_topics(settings: Settings, *, timeout_ms: int = 30_000) -> list[str]:
    """Delete every topic of one test (those starting with its topic prefix); returns their names.

    A test's topics are its own (the prefix is random), so a suite leaves the broker as it found
    it: a real Apache Kafka otherwise accumulates thousands of topics over runs and takes minutes to
    recover after a crash. A broker that refuses (or cannot) delete is tolerated: the names are
    still returned and the refusal is logged, never raised, so the test's own outcome stands."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    prefix = settings.topic_prefix
    if not prefix or not settings.kafka.bootstrap_servers:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        names = sorted(n for n in await admin.list_topics() if n.startswith(prefix))
        if names:
            await admin.delete_topics(names, timeout_ms=timeout_ms)
        return names
    except Exception as exc:  # noqa: BLE001  (cleanup: a test's outcome is not the broker's refusal)
        logging.getLogger(__name__).warning("could not delete the topics of %s*: %r", prefix, exc)
        return []
    finally:
        await admin.close()


def test_settings(infra: Infrastructure, *, database_url: str, **overrides: object) -> Settings:
    """Settings for one test: its own topic prefix and database, quick retries."""
    values: dict[str, object] = {
        "environment": "test",
        "topic_prefix": f"t{uuid.uuid4().hex[:10]}.",
        "consumer_backoff_initial_s": 0.02,
        "consumer_backoff_max_s": 0.2,
        "relay_poll_interval_s": 0.05,
        # the embedded broker has no idempotent producer; Apache Kafka's is used as in production
        "kafka": KafkaSettings(bootstrap_servers=infra.bootstrap_servers, partitions=3,
                               idempotent_producer=infra.kind != "embedded"),
        "db": DatabaseSettings(admin_url=database_url, pool_size=5, max_overflow=5),
        "auth": test_auth_settings(),
    }
    if infra.kind == "embedded":  # the embedded broker's fetch wait (see shared.devstack); Kafka's elsewhere
        values["consumer_fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
