"""Group commit: concurrent items applied together, a failing one alone, nobody left waiting."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest

from shared.db.group_commit import GroupCommit

caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)


class Recorder:
    def __init__(self, *, refuse: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.refuse = refuse
        self.batches: list[list[int]] = []
        self.alone: list[int] = []
        self.committed: list[int] = []
        self.contexts: list[str | None] = []

    async def apply_batch(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.contexts.append(caller.get())
        await asyncio.sleep(0.01)  # a transaction's round trips: others queue meanwhile
        if self.refuse & set(items):
            raise ValueError("one of them is refused")  # nothing of the batch is committed
        self.committed += items
        return [item * 10 for item in items]

    async def apply_one(self, item: int) -> int:
        self.alone.append(item)
        self.contexts.append(caller.get())
        await asyncio.sleep(0.01)
        if item in self.refuse:
            raise ValueError(f"{item} is refused")
        self.committed.append(item)
        return item * 10


async def submit_as(group: GroupCommit[int, int], item: int) -> int:
    caller.set(f"request-{item}")
    return await group.submit(item)


async def test_a_lone_item_is_applied_at_once_and_items_arriving_meanwhile_share_a_batch() -> None:
    recorder = Recorder()
    group = GroupCommit(apply_batch=recorder.apply_batch, apply_one=recorder.apply_one, max_batch=50)
    assert await submit_as(group, 1) == 10
    assert recorder.alone == [1] and recorder.batches == []

    first = asyncio.ensure_future(submit_as(group, 2))
    await asyncio.sleep(0.001)  # the worker is applying item 2 when the others arrive
    results = await asyncio.gather(*(submit_as(group, i) for i in range(3, 32)))
    assert await first == 20 and results == [i * 10 for i in range(3, 32)]
    # item 2 found the worker idle and went alone; the 29 queued behind it and went together
    assert recorder.alone == [1, 2] and recorder.batches == [list(range(3, 32))]
    assert sorted(recorder.committed) == list(range(1, 32))
    assert (group.batches, group.items, group.fallbacks) == (3, 31, 0)
    # the worker runs in a context of its own, never in one of the requests'
    assert set(recorder.contexts) == {None}


async def test_batches_are_at_most_max_batch() -> None:
    recorder = Recorder()
    group = GroupCommit(apply_batch=recorder.apply_batch, apply_one=recorder.apply_one, max_batch=8)
    await asyncio.gather(*(submit_as(group, i) for i in range(30)))
    assert all(len(batch) <= 8 for batch in recorder.batches)
    assert sorted(recorder.committed) == list(range(30))


async def test_a_failing_item_fails_alone_and_the_others_of_its_batch_are_applied() -> None:
    recorder = Recorder(refuse={7})
    group = GroupCommit(apply_batch=recorder.apply_batch, apply_one=recorder.apply_one, max_batch=50)
    results = await asyncio.gather(*(submit_as(group, i) for i in range(20)), return_exceptions=True)
    assert isinstance(results[7], ValueError) and str(results[7]) == "7 is refused"
    assert [r for i, r in enumerate(results) if i != 7] == [i * 10 for i in range(20) if i != 7]
    assert sorted(recorder.committed) == [i for i in range(20) if i != 7]  # each once
    assert group.fallbacks == 1


async def test_a_caller_that_goes_away_does_not_stop_its_item_or_the_others() -> None:
    recorder = Recorder()
    group = GroupCommit(apply_batch=recorder.apply_batch, apply_one=recorder.apply_one, max_batch=50)
    first = asyncio.ensure_future(submit_as(group, 1))
    others = [asyncio.ensure_future(submit_as(group, i)) for i in range(2, 6)]
    await asyncio.sleep(0)
    others[0].cancel()
    assert await first == 10
    assert [await o for o in others[1:]] == [30, 40, 50]
    with pytest.raises(asyncio.CancelledError):
        await others[0]
    await group.close()
    assert sorted(recorder.committed) == [1, 2, 3, 4, 5]  # item 2 was applied all the same


async def test_a_batch_giving_the_wrong_number_of_results_is_an_error_for_every_caller() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        await asyncio.sleep(0.01)
        return [0]

    async def one(item: int) -> int:
        await asyncio.sleep(0.01)
        return item

    group = GroupCommit(apply_batch=short, apply_one=one, max_batch=50)
    results = await asyncio.gather(*(group.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await group.submit(9) == 9  # the worker is still there for the next ones
