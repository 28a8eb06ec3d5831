"""The unit of work's deferred row writes: grouped into few statements, each row's writes in order."""

from __future__ import annotations

import random

from shared.db.uow import DeferredWrites


def flatten(writes: DeferredWrites) -> list[tuple[str, int, int]]:
    return [(statement, params["row"], params["i"]) for statement, rows, _ in writes.runs for params in rows]


def test_writes_to_one_row_keep_their_order_and_a_run_writes_a_row_once() -> None:
    rng = random.Random(20260531)
    for _ in range(500):
        writes, queued = DeferredWrites(), []
        for i in range(rng.randint(1, 40)):
            statement, row = rng.choice("ABC"), rng.randint(0, 6)
            writes.add(statement, {"i": i, "row": row}, row)
            queued.append((statement, row, i))
        executed = flatten(writes)
        assert sorted(executed) == sorted(queued)
        for row in range(7):
            assert [i for _, r, i in executed if r == row] == [i for _, r, i in queued if r == row]
        for statement, rows, names in writes.runs:
            assert len({params["row"] for params in rows}) == len(rows) == len(names)


def test_a_case_by_case_stream_goes_out_as_one_run_per_statement_and_step() -> None:
    # cases 0..9, each opened, then acknowledged and resolved (one statement), then closed
    writes = DeferredWrites()
    i = 0
    for case in range(10):
        for statement in ("open", "step", "step", "close"):
            writes.add(statement, {"i": i, "row": case}, case)
            i += 1
    assert [(statement, len(rows)) for statement, rows, _ in writes.runs] == [
        ("open", 10), ("step", 10), ("step", 10), ("close", 10)]
