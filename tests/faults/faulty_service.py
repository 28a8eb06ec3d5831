"""``careloop serve <service>`` with faults injected at the exact windows the suite aims at.

Run as a script by the fault suite (``python tests/faults/faulty_service.py routing``); the faults
come from the environment so that a respawned replica carries the same ones:

* ``CARELOOP_FAULT_KILL_AFTER_COMMIT=<p>`` — after a unit of work commits, SIGKILL this process
  with probability ``p``: in a consumer that is between its database commit and its offset commit;
  for a use case (and a dead letter), between the commit of its outbox rows and their publication.
* ``CARELOOP_FAULT_KILL_AFTER_PUBLISH=<p>`` — after the broker acknowledged a relay batch and before
  the relay marks the rows published, SIGKILL with probability ``p``.
* ``CARELOOP_FAULT_BREAK_INBOX=1`` — every inbox claim says "new": a redelivered event is applied
  again. Only for proving that the checker catches doubled effects.
* ``CARELOOP_FAULT_LOG=<path>`` — one line per injected kill (``<service> <window>``), so the test
  can print how many kills landed in which window.
* ``CARELOOP_FAULT_MAX_KILLS`` — stop injecting at a window once the log holds this many kills there.
* ``CARELOOP_FAULT_FIRST_KILL_AT=<k>`` — a window no process has been killed at yet gets its kill
  at this process's k-th chance there at the latest, so that every window is hit in every run
  (however few chances the random choice had); the others stay random.
* ``CARELOOP_FAULT_SEED`` — seeds the random choice (a respawn should pass a new one).
"""

from __future__ import annotations

import collections
import contextvars
import os
import random
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _spent(window: str) -> int:
    """How many kills the log holds at ``window``, in every process of the run."""
    log = os.environ.get("CARELOOP_FAULT_LOG")
    if not log or not Path(log).exists():
        return 0
    return sum(1 for line in Path(log).read_text().splitlines() if line.endswith(f" {window}"))


_chances: collections.Counter[str] = collections.Counter()


def _decide(window: str, probability: float, rng: random.Random) -> bool:
    """Whether to kill at this chance at ``window``: at random, or because it is this process's
    ``CARELOOP_FAULT_FIRST_KILL_AT``-th chance there and nobody has been killed there yet."""
    _chances[window] += 1
    if rng.random() < probability:
        return True
    first_at = int(os.environ.get("CARELOOP_FAULT_FIRST_KILL_AT") or 0)
    return bool(first_at) and _chances[window] >= first_at and _spent(window) == 0


def _kill(window: str) -> None:
    log = os.environ.get("CARELOOP_FAULT_LOG")
    budget = int(os.environ.get("CARELOOP_FAULT_MAX_KILLS") or 0)
    if budget and _spent(window) >= budget:
        return  # this window's budget of kills is spent: let the stream finish
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.environ.get('CARELOOP_FAULT_SERVICE', '?')} {window}\n")
            out.flush()
            os.fsync(out.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


_consuming: contextvars.ContextVar[bool] = contextvars.ContextVar("fault_consuming", default=False)


def _in_consumer() -> bool:
    """Whether the commit being made is a consumer's (its offsets are not committed yet): set while
    ``EventConsumer.process`` runs, in every task it starts."""
    return _consuming.get()


def install() -> None:
    rng = random.Random(os.environ.get("CARELOOP_FAULT_SEED"))
    after_commit = float(os.environ.get("CARELOOP_FAULT_KILL_AFTER_COMMIT") or 0)
    after_publish = float(os.environ.get("CARELOOP_FAULT_KILL_AFTER_PUBLISH") or 0)

    if after_commit:
        from shared.db.uow import UnitOfWork
        from shared.messaging.consumer import EventConsumer

        process = EventConsumer.process

        async def process_marked(self: EventConsumer, *args: object, **kwargs: object) -> object:
            token = _consuming.set(True)
            try:
                return await process(self, *args, **kwargs)  # type: ignore[arg-type]
            finally:
                _consuming.reset(token)

        EventConsumer.process = process_marked  # type: ignore[method-assign]

        commit = UnitOfWork.commit

        async def commit_then_maybe_die(self: UnitOfWork) -> None:
            wrote_outbox = bool(getattr(self, "_pending", None))
            in_consumer = _in_consumer()
            await commit(self)
            # Only commits that leave something at stake: offsets not yet committed, or outbox rows
            # not yet published (an idle timer's empty commit is not a window worth a restart).
            window = "after-consumer-commit" if in_consumer else "after-commit-before-publish"
            if (in_consumer or wrote_outbox) and _decide(window, after_commit, rng):
                _kill(window)

        UnitOfWork.commit = commit_then_maybe_die  # type: ignore[method-assign]

    if after_publish:
        from shared.messaging.relay import OutboxRelay

        init = OutboxRelay.__init__

        class DyingProducer:
            """Delegates to the relay's producer; may die once the broker acknowledged a record."""

            def __init__(self, producer: object) -> None:
                self._producer = producer

            def __getattr__(self, name: str) -> object:
                return getattr(self._producer, name)

            async def send(self, *args: object, **kwargs: object) -> object:
                delivery = await self._producer.send(*args, **kwargs)  # type: ignore[attr-defined]

                async def acknowledged() -> object:
                    metadata = await delivery
                    if _decide("after-publish-before-mark", after_publish, rng):
                        _kill("after-publish-before-mark")
                    return metadata

                return acknowledged()

        def init_with_dying_producer(self: OutboxRelay, *, producer: object, **kwargs: object) -> None:
            init(self, producer=DyingProducer(producer), **kwargs)  # type: ignore[arg-type]

        OutboxRelay.__init__ = init_with_dying_producer  # type: ignore[method-assign]

    if os.environ.get("CARELOOP_FAULT_BREAK_INBOX") == "1":
        from shared.db.uow import UnitOfWork

        async def claim_always(self: UnitOfWork, consumer: str, event_id: object) -> bool:
            return True  # the inbox is gone: every delivery looks new

        UnitOfWork.claim = claim_always  # type: ignore[method-assign]
        # A batched claim (if the consumer has one) must not bring the inbox back.
        for name in dir(UnitOfWork):
            if name.startswith("claim_"):
                async def claim_all(self: UnitOfWork, consumer: str, event_ids: object, *a: object, **k: object) -> object:
                    ids = list(event_ids)  # type: ignore[call-overload]
                    return set(ids)

                setattr(UnitOfWork, name, claim_all)


if __name__ == "__main__":
    install()
    from shared.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
