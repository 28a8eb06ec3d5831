"""What the benchmarks share: a cProfile summary by area, and uvicorn serving an app in-process.

The benchmarks run as scripts (``python bench/<name>.py``), so this module is imported by its plain
name from the script's folder.
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import time
from typing import Any


class Profile:
    """cProfile of this process over a block, summarised by where the time went."""

    def __init__(self, *, areas: int = 12, careloop_cumulative: bool = False) -> None:
        self.areas, self.careloop_cumulative = areas, careloop_cumulative

    def __enter__(self) -> Profile:
        import cProfile

        try:
            self.loop_kind = type(asyncio.get_running_loop()).__module__.split(".")[0]
        except RuntimeError:
            self.loop_kind = "asyncio"
        self.profiler = cProfile.Profile()
        self.profiler.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.profiler.disable()

    def report(self, title: str, top: int = 16) -> None:
        import pstats

        stats = pstats.Stats(self.profiler)
        by_area: collections.Counter[str] = collections.Counter()
        total = 0.0
        rows = []
        entries = stats.stats.items()  # type: ignore[attr-defined]
        for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in entries:
            by_area[area_of(filename, name)] += tottime
            total += tottime
            rows.append((tottime, calls, cumtime, f"{short_path(filename)}:{line}({name})"))
        print(f"\n  cProfile, {title}: own time by area ({total:.1f} s sampled in this process)")
        if self.loop_kind != "asyncio":
            print(f"  ({self.loop_kind}: the loop's wait for I/O is not an area of its own here; it counts as own "
                  "time of the coroutines that await, chiefly asyncpg's execute)")
        for area, seconds in by_area.most_common(self.areas):
            print(f"    {area:<44} {100 * seconds / total:5.1f} %")
        print("  top functions by own time")
        for tottime, calls, _cumtime, where in sorted(rows, reverse=True)[:top]:
            print(f"    {100 * tottime / total:5.1f} %  {calls:>9,} calls  {where[:100]}")
        if self.careloop_cumulative:
            cumulative = sorted(((cum, where) for _t, _c, cum, where in rows
                                 if where.startswith(("services/", "shared/"))), reverse=True)[:12]
            print("  CareLoop functions by cumulative time")
            for cum, where in cumulative:
                print(f"    {100 * cum / total:5.1f} %  {where[:100]}")


def short_path(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def area_of(filename: str, name: str) -> str:
    if filename == "~":
        if "poll" in name or "select" in name:
            return "idle: waiting in epoll"
        return "C built-ins (json, uuid, socket, str…)"
    if "site-packages/" in filename:
        return f"lib: {filename.split('site-packages/', 1)[1].split('/', 1)[0]}"
    if "/services/" in filename:
        return "careloop: services"
    if "/shared/" in filename:
        return "careloop: shared"
    if "/asyncio/" in filename:
        return "stdlib: asyncio"
    return "stdlib: other"


class Uvicorn:
    """An ASGI app served by uvicorn in this process, as ``careloop serve`` configures it."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
        # it every keep-alive response waits ~40 ms for a delayed ACK (Nagle)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task
        self.socket.close()


# --- CPU accounting ---------------------------------------------------------------------------------

#: The embedded infrastructure's processes, by command name (PostgreSQL's backends, the Tansu broker).
INFRASTRUCTURE = {"postgres": ("postgres",), "broker": ("tansu",)}


def processes() -> list[tuple[int, int, str, float]]:
    """Every process on this machine: (pid, parent pid, command name, CPU seconds used, user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, _, rest = f.read().rpartition(")")
            except OSError:
                continue
            fields = rest.split()
            found.append((int(entry), int(fields[1]), head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick))
    return found


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "[::1]"}


def _is_this_machine(host: str) -> bool:
    if host in _LOCAL_HOSTS or host == socket.gethostname():
        return True
    try:
        return socket.gethostbyname(host).startswith("127.")
    except OSError:
        return False


def listening_pid(port: int) -> int | None:
    """The process of this machine listening on TCP ``port``: the socket's inode from
    /proc/net/tcp{,6}, then the process holding it among /proc/<pid>/fd; None when nobody listens
    here or the process is not ours to inspect."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                    return int(entry)
            except OSError:
                continue
    return None


def describe_process(pid: int) -> str:
    """``pid 123: java (kafka.Kafka)`` — the command and, for a JVM, its main class."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        argv = []
    command = os.path.basename(argv[0]) if argv else "?"
    main_class = next((a for a in argv[1:] if not a.startswith("-") and "." in a and "/" not in a
                       and not a.endswith((".properties", ".jar"))), None)
    return f"pid {pid}: {command}" + (f" ({main_class})" if command == "java" and main_class else "")


def broker_tree(bootstrap_servers: str) -> tuple[dict[str, int], str]:
    """The broker's process, as a :class:`CpuMeter` tree ``{"broker": pid}``, when it runs on this
    machine (the process listening on the first bootstrap server's port: a JVM for Apache Kafka,
    ``tansu`` for the embedded broker), with a line saying which process is counted."""
    first = bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not port.isdigit() or not _is_this_machine(host.strip("[]") or "localhost"):
        return {}, f"broker CPU not counted: {first} is not on this machine"
    pid = listening_pid(int(port))
    if pid is None:
        return {}, f"broker CPU not counted: no process of ours listens on port {port} here"
    return {"broker": pid}, f"broker CPU counted: {describe_process(pid)}, listening on {first}"


class CpuMeter:
    """CPU seconds used over a stretch of a run: by process trees given by their root pids (a
    service and its workers), by the infrastructure's processes found on this machine (none when
    it runs elsewhere), and by this process.

        meter = CpuMeter({"routing": pid}); ...; used = meter.used()  # {"routing": s, "postgres": s, …}
    """

    def __init__(self, trees: dict[str, int] | None = None, *, own: str | None = "this process") -> None:
        self.trees = dict(trees or {})
        # a kind given as a tree (e.g. the broker by the pid on its port) is not also matched by name
        self.infrastructure = {kind: names for kind, names in INFRASTRUCTURE.items() if kind not in self.trees}
        self.own = own
        self.started, self.since = self._now(), time.monotonic()
        self.seconds = 0.0  # wall time from the meter's making to its last reading

    def _now(self) -> dict[str, float]:
        children: dict[int, list[int]] = {}
        used: dict[int, float] = {}
        totals = dict.fromkeys([*self.trees, *self.infrastructure], 0.0)
        for pid, parent, command, seconds in processes():
            used[pid] = seconds
            children.setdefault(parent, []).append(pid)
            for kind, prefixes in self.infrastructure.items():
                if command.startswith(prefixes):
                    totals[kind] += seconds
        for name, root in self.trees.items():
            todo = [root]
            while todo:
                current = todo.pop()
                totals[name] += used.get(current, 0.0)
                todo += children.get(current, [])
        if self.own:
            totals[self.own] = time.process_time()
        return totals

    def used(self) -> dict[str, float]:
        """Seconds used by each since the meter was made (the infrastructure's only where found)."""
        now = self._now()
        self.seconds = time.monotonic() - self.since
        return {name: now[name] - self.started.get(name, 0.0) for name in now
                if name not in self.infrastructure or now[name] - self.started.get(name, 0.0) > 0}


def cpu_budget(used: dict[str, float], count: int, *, target_rate: float, what: str = "feedback",
               idle: dict[str, float] | None = None, seconds: float | None = None) -> str:
    """Where the CPU of ``count`` items went, per item, and what that allows on this machine's cores
    against the ``target_rate``'s budget (all cores divided by the rate).

    ``idle`` (cores each process uses with nothing to do, e.g. consumers polling the broker) and
    the run's ``seconds`` add how much of that was spent whatever the load: a share that a longer
    or faster run spreads over more items."""
    cores = os.cpu_count() or 1
    per_item = {name: 1000 * seconds / count for name, seconds in used.items()}
    total = sum(per_item.values())
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_item.items())
    ceiling = 1000 * cores / total if total else float("inf")
    line = (f"CPU per {what}, ms: {parts}; {total:.2f} in all → {cores} cores carry at most {ceiling:,.0f}/s "
            f"(the {target_rate:,.0f}/s target leaves {1000 * cores / target_rate:.2f} ms for everything)")
    if idle and seconds:
        idle_cores = sum(idle.values())
        busiest = ", ".join(f"{name} {c:.2f}" for name, c in sorted(idle.items(), key=lambda kv: -kv[1]) if c >= 0.005)
        line += (f"; with nothing to do the same processes use {idle_cores:.2f} cores ({busiest}), i.e. "
                 f"{1000 * idle_cores * seconds / count:.2f} ms per {what} over this run's {seconds:.1f} s")
    return line


async def idle_cores(trees: dict[str, int] | None = None, *, seconds: float = 3.0) -> dict[str, float]:
    """Cores used by the processes of :class:`CpuMeter` over ``seconds`` of doing nothing."""
    meter = CpuMeter(trees, own=None)
    await asyncio.sleep(seconds)
    return {name: used / seconds for name, used in meter.used().items()}
