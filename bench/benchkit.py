"""What the benchmarks share: a cProfile summary by area, and uvicorn serving an app in-process.

The benchmarks run as scripts (``python bench/<name>.py``), so this module is imported by its plain
name from the script's folder.
"""

from __future__ import annotations

import asyncio
import collections
import socket
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
