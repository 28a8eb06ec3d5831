"""Real infrastructure for tests: a broker and a PostgreSQL server, chosen by one switch.

``CARELOOP_TEST_INFRA`` decides (default ``auto``):

* ``env`` — servers named by ``CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS`` and
  ``CARELOOP_TEST_DB_ADMIN_URL`` (a real Apache Kafka, a managed PostgreSQL…);
* ``docker`` — testcontainers (Apache Kafka and PostgreSQL images) on a reachable Docker engine;
* ``embedded`` — the Tansu broker and embedded PostgreSQL of :mod:`shared.devstack`;
* ``kafka`` — an external broker named by ``KAFKA_BOOTSTRAP_SERVERS`` (or
  ``CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS``), e.g. a real Apache Kafka, with the PostgreSQL of
  ``CARELOOP_TEST_DB_ADMIN_URL`` when set, else the embedded one;
* ``auto`` — ``env`` when both ``CARELOOP_TEST_*`` variables are set, else ``kafka`` when a broker
  is named, else ``docker`` when an engine answers, else ``embedded``.

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
    if os.environ.get("CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("CARELOOP_TEST_DB_ADMIN_URL"):
        return "env"
    if external_bootstrap_servers():
        return "kafka"
    return "docker" if _docker_answers() else "embedded"


def external_bootstrap_servers() -> str | None:
    """The external broker the tests and benchmarks were pointed at, if any."""
    return os.environ.get("CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


@contextlib.contextmanager
def provide_infrastructure() -> Iterator[Infrastructure]:
    kind = choose_kind()
    if kind == "env":
        yield Infrastructure(
            kind, os.environ["CARELOOP_TEST_KAFKA_BOOTSTRAP_SERVERS"], os.environ["CARELOOP_TEST_DB_ADMIN_URL"]
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
            raise ValueError("CARELOOP_TEST_INFRA=kafka needs KAFKA_BOOTSTRAP_SERVERS")
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
