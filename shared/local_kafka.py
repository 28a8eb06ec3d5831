"""A local, single-node Apache Kafka broker started from a Kafka installation (a "Kafka home").

No package registry ships Apache Kafka, so CareLoop cannot install it. A user who has one (an
official Apache Kafka download unpacked anywhere, with ``bin/kafka-server-start.sh`` and
``bin/kafka-storage.sh``) names it with ``CARELOOP_KAFKA_HOME``; this module then runs it in KRaft
mode (broker and controller in one process) on loopback, with every file it writes (settings, data,
logs) in a data directory of our own, so the Kafka home may stay read-only. A Java 17+ runtime must
be on ``PATH`` or in ``JAVA_HOME``.

Used by ``careloop kafka start|stop``, ``careloop dev --broker kafka``, CI (``.ci/run``) and the
fault scenarios that kill and restart the broker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

KAFKA_HOME_VARIABLE = "CARELOOP_KAFKA_HOME"
_STARTED = "Kafka Server started"


class LocalKafkaError(RuntimeError):
    """The Kafka home or the Java runtime is missing, or the broker did not start."""


def kafka_home(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The Kafka installation named explicitly or by ``CARELOOP_KAFKA_HOME``, if it is one."""
    value = explicit or os.environ.get(KAFKA_HOME_VARIABLE)
    if not value:
        return None
    home = Path(value).expanduser().resolve()
    return home if (home / "bin" / "kafka-server-start.sh").is_file() else None


def recorded_port(data_dir: Path) -> int | None:
    """The client port a broker of ``data_dir`` was last started on (from its server.properties)."""
    try:
        text = (data_dir / "server.properties").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("listeners=") and "PLAINTEXT://" in line:
            try:
                return int(line.split("PLAINTEXT://", 1)[1].split(",", 1)[0].rsplit(":", 1)[1])
            except (IndexError, ValueError):
                return None
    return None


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    return bool((java_home and (Path(java_home) / "bin" / "java").exists()) or shutil.which("java"))


def _properties(data_dir: Path, port: int, controller_port: int) -> str:
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir / "log-dirs"),
        "num.partitions": "1",
        # one node: the internal topics cannot have more copies than that
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "delete.topic.enable": "true",
        # CareLoop creates its topics itself, with their retention; a typo must not make a new one
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def _most_open_files() -> None:
    """Let the broker open as many files as this user may: it keeps three open per partition (its
    log, offset index and time index), and when it runs out its log directory fails and it shuts
    down (seen after some 20,000 open files, when tests left their topics behind)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class LocalKafka:
    """One broker process. ``start()`` returns once it accepts clients; ``stop()`` ends it."""

    home: Path
    data_dir: Path
    port: int = 29092
    controller_port: int | None = None
    heap: str = "-Xmx1g -Xms512m"
    start_timeout_s: float = 120.0
    pid: int | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    def _tool(self, name: str) -> str:
        return str(self.home / "bin" / name)

    def _env(self) -> dict[str, str]:
        return {**os.environ, "LOG_DIR": str(self.data_dir / "logs"), "KAFKA_HEAP_OPTS": self.heap}

    def _started_count(self) -> int:
        try:
            return self.server_log.read_text(errors="replace").count(_STARTED)
        except OSError:
            return 0

    def start(self, *, reset: bool = False) -> LocalKafka:
        if not (self.home / "bin" / "kafka-server-start.sh").is_file():
            raise LocalKafkaError(f"{self.home} is not a Kafka installation (no bin/kafka-server-start.sh)")
        if not java_available():
            raise LocalKafkaError("no Java runtime: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
        if self.running():
            return self
        if reset:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log-dirs").mkdir(parents=True, exist_ok=True)
        properties = self.data_dir / "server.properties"
        properties.write_text(_properties(self.data_dir, self.port, self.controller_port or self.port + 1))
        if not (self.data_dir / "log-dirs" / "meta.properties").exists():
            cluster_id = subprocess.run([self._tool("kafka-storage.sh"), "random-uuid"], env=self._env(),
                                        check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            subprocess.run([self._tool("kafka-storage.sh"), "format", "-t", cluster_id, "-c", str(properties)],
                           env=self._env(), check=True, capture_output=True)
        before = self._started_count()
        with open(self.data_dir / "logs" / "console.out", "ab") as console:
            proc = subprocess.Popen([self._tool("kafka-server-start.sh"), str(properties)], env=self._env(),
                                    stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_most_open_files)
        self.pid = proc.pid
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LocalKafkaError(f"the broker exited with code {proc.returncode}; see {self.server_log}")
            if self._started_count() > before and self._accepts():
                return self
            time.sleep(0.5)
        raise LocalKafkaError(f"the broker did not start within {self.start_timeout_s:.0f}s; see {self.server_log}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def running_pid(self) -> int | None:
        pid = self.pid
        if pid is None and self.pid_file.exists():
            try:
                pid = int(self.pid_file.read_text().strip())
            except ValueError:
                return None
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return None
        return pid

    def running(self) -> bool:
        return self.running_pid() is not None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> None:
        """SIGTERM for a clean shutdown (the default); SIGKILL for a crash."""
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll until it is gone
                finished = 0 if self._alive(pid) else pid
            if finished == pid or not self._alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid = None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
