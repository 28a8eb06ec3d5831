"""Group commit: the writes of concurrent requests applied together, in one transaction.

An HTTP route that records something (a piece of feedback, say) spends most of its time on the
transaction around a few small statements. :class:`GroupCommit` lets concurrent requests share
one: each request hands its item over and waits; a single worker takes whatever has queued up (at
most ``max_batch`` items) and applies them with ``apply_batch`` in one unit of work, with the
effects of applying them one after the other. Nothing waits for a batch to fill: the worker starts
as soon as an item arrives at an idle group and takes what has queued by then (often just that
one), and the items that arrive while a batch is being applied form the next one. So a lone request pays nothing extra, and under load
the batches grow by themselves.

When a batch fails for any reason, its items are applied again one at a time with ``apply_one``,
each in its own transaction, so that only the item at fault fails (its request gets its own
error, e.g. a 422) and the others succeed as they would have alone. A result is handed back only
after the transaction that made it committed.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    result: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __post_init__(self) -> None:
        # A request that went away leaves its result unread: not an error worth a warning.
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())


class GroupCommit(Generic[T, R]):
    """``await group.submit(item)`` returns what applying ``item`` gave, once it is committed.

    ``apply_batch(items)`` applies and commits several items in one transaction and returns their
    results in order; ``apply_one(item)`` does the same for one item (the fallback after a batch
    failed, and the path of a batch of one).
    """

    def __init__(
        self,
        *,
        apply_batch: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        apply_one: Callable[[T], Awaitable[R]],
        max_batch: int = 100,
        name: str = "group-commit",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._apply_batch = apply_batch
        self._apply_one = apply_one
        self.max_batch = max_batch
        self.name = name
        self._queue: list[_Waiting[T, R]] = []
        self._worker: asyncio.Task[None] | None = None
        # what the worker has done, for tests and benchmarks
        self.batches = 0
        self.items = 0
        self.fallbacks = 0
        self.busy_s = 0.0  # time spent applying batches
        self.longest_s = 0.0  # the longest one

    async def submit(self, item: T) -> R:
        waiting: _Waiting[T, R] = _Waiting(item)
        self._queue.append(waiting)
        if self._worker is None or self._worker.done():
            # A context of its own: the worker serves many requests, none of whose context
            # variables (the caller, the correlation id) belong to the others.
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name=self.name, context=contextvars.Context())
        # The worker applies the item whether or not this request is still waiting for it (a
        # client that went away does not undo a write that may already be committed).
        return await asyncio.shield(waiting.result)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                await self._run(batch)
            except Exception as exc:  # a defect of the batch function: its callers hear of it
                log.exception("group commit failed", extra={"group": self.name, "items": len(batch)})
                self._fail(batch, exc)
            except BaseException:  # cancelled (shutdown): nobody is left waiting
                self._fail(batch + self._queue, asyncio.CancelledError())
                self._queue = []
                raise

    @staticmethod
    def _fail(waiting: list[_Waiting[T, R]], exc: BaseException) -> None:
        for w in waiting:
            if not w.result.done():
                w.result.set_exception(exc)

    async def _run(self, batch: list[_Waiting[T, R]]) -> None:
        self.batches += 1
        self.items += len(batch)
        started = time.perf_counter()
        try:
            await self._apply(batch)
        finally:
            took = time.perf_counter() - started
            self.busy_s += took
            self.longest_s = max(self.longest_s, took)

    async def _apply(self, batch: list[_Waiting[T, R]]) -> None:
        if len(batch) > 1:
            try:
                results = await self._apply_batch([w.item for w in batch])
            except Exception as exc:
                # Someone's item (or the database) failed: each alone, so only the one at fault fails.
                self.fallbacks += 1
                log.info("group commit fell back to one at a time",
                         extra={"group": self.name, "items": len(batch), "error_type": type(exc).__name__})
            else:
                if len(results) != len(batch):
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
                for waiting, result in zip(batch, results, strict=True):
                    waiting.result.set_result(result)
                return
        for waiting in batch:
            try:
                waiting.result.set_result(await self._apply_one(waiting.item))
            except Exception as exc:
                waiting.result.set_exception(exc)

    async def close(self) -> None:
        """Wait for the items handed over so far to be applied."""
        worker = self._worker
        if worker is not None and not worker.done():
            await asyncio.gather(worker, return_exceptions=True)


__all__ = ["GroupCommit"]
