"""Dead letters, for operators: list them, look at one, and replay them once the cause is fixed.

Every ``<topic>.dlq`` record carries the original payload and key, and headers saying why it is
there (``x-dlq-kind``, ``x-dlq-reason``, ``x-dlq-consumer``, ``x-dlq-attempts``) and where it came
from (``x-original-topic``, ``-partition``, ``-offset``, ``-event-id``); ``x-dlq-id`` names the
letter (a crash may publish one letter twice: it is listed once).

A replay publishes the original payload again to the original topic with the original key (so it
lands on the same partition, in order with the aggregate's later events), with the original
headers plus ``x-replay-of`` (the letter id). Each replay is recorded on ``dlq.replayed`` (keyed
by the letter id: when, by whom, where it went), and a letter that was replayed is not replayed
again unless asked to (``again=True``). A replayed event that was applied meanwhile changes
nothing: consumers dedupe on the event id.
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.messaging.kafka import bootstrap, ensure_topics, make_producer, topic_partitions
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX

#: Where replays are recorded (logical name; the deployment's prefix is added).
REPLAY_LOG = "dlq.replayed"

_LETTER_HEADERS = ("x-dlq-", "x-original-", "x-replay-of")


@dataclass
class DeadLetterRecord:
    """One dead letter as found on its ``.dlq`` topic."""

    letter_id: str
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes
    headers: dict[str, str]
    replays: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.headers.get("x-dlq-kind", "?")

    @property
    def reason(self) -> str:
        return self.headers.get("x-dlq-reason", "")

    @property
    def consumer(self) -> str:
        return self.headers.get("x-dlq-consumer", "?")

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic") or self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def original_position(self) -> str:
        h = self.headers
        return f"{self.original_topic}:{h.get('x-original-partition', '?')}:{h.get('x-original-offset', '?')}"

    @property
    def replayed(self) -> bool:
        return bool(self.replays)

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was dead-lettered."""
        return [(k, v.encode()) for k, v in self.headers.items() if not k.startswith(_LETTER_HEADERS)]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.letter_id, "dlq": f"{self.dlq_topic}:{self.partition}:{self.offset}", "kind": self.kind,
            "consumer": self.consumer, "original": self.original_position,
            "event_id": self.headers.get("x-original-event-id"), "failed_at": self.headers.get("x-dlq-failed-at"),
            "attempts": self.headers.get("x-dlq-attempts"), "reason": self.reason, "replayed": self.replayed,
        }


class ReplayRefused(Exception):
    """Nothing was replayed: the letter is unknown, ambiguous, or was replayed before."""


async def read_until_quiet(settings: Settings, consumer: AIOKafkaConsumer, topics: Iterable[str], *,
                            quiet_s: float, timeout: float) -> list[Any]:
    """Every record of ``topics`` from the beginning, until nothing came for ``quiet_s``.

    End offsets are not trusted: some Kafka-compatible brokers (Tansu) under-report them."""
    # each topic's partitions asked by name: on Apache Kafka a consumer's topic listing leaves them
    # out of its own metadata (the embedded broker happens to answer with every topic)
    partitions = [TopicPartition(t, p) for t in topics for p in await topic_partitions(settings, t)]
    if not partitions:
        return []
    consumer.assign(partitions)
    await consumer.seek_to_beginning()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() - last < quiet_s and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for recs in batch.values():
            if recs:
                records.extend(recs)
                last = time.monotonic()
    return records


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


async def dead_letters(settings: Settings, *, topic: str | None = None, quiet_s: float = 1.5,
                       timeout: float = 60) -> list[DeadLetterRecord]:
    """Every dead letter of this deployment (its topic prefix), oldest first, with its replays.

    ``topic`` narrows to one original topic (logical name, e.g. ``inbound.feedback``)."""
    prefix = settings.topic_prefix
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest", **settings.kafka.client_options())  # type: ignore[arg-type]
    await consumer.start()
    try:
        names = await consumer.topics()
        wanted = sorted(
            n for n in names
            if n.startswith(prefix) and n.endswith(DLQ_SUFFIX)
            and (topic is None or n == f"{prefix}{topic}{DLQ_SUFFIX}")
        )
        replay_log = f"{prefix}{REPLAY_LOG}"
        # One assignment for both (a consumer reassigned after reading does not reliably read again).
        read = await read_until_quiet(settings, consumer, wanted + ([replay_log] if replay_log in names else []),
                                       quiet_s=quiet_s, timeout=timeout)
        records = [r for r in read if r.topic != replay_log]
        replays = [r for r in read if r.topic == replay_log]
    finally:
        await consumer.stop()
    by_letter: dict[str, list[dict[str, Any]]] = {}
    for record in replays:
        by_letter.setdefault(record.key.decode(), []).append(json.loads(record.value))
    letters: dict[str, DeadLetterRecord] = {}
    for record in sorted(records, key=lambda r: (r.timestamp, r.topic, r.partition, r.offset)):
        headers = _headers(record)
        letter_id = headers.get("x-dlq-id") or f"{record.topic}:{record.partition}:{record.offset}"
        if letter_id in letters:
            continue  # the same letter published twice (at least once, after a crash)
        letters[letter_id] = DeadLetterRecord(letter_id, record.topic, record.partition, record.offset, record.key,
                                              record.value or b"", headers, by_letter.get(letter_id, []))
    return list(letters.values())


def find(letters: list[DeadLetterRecord], letter_id: str) -> DeadLetterRecord:
    """The letter whose id is ``letter_id`` or starts with it (an unambiguous prefix)."""
    matches = [letter for letter in letters if letter.letter_id == letter_id] or [
        letter for letter in letters if letter.letter_id.startswith(letter_id)]
    if not matches:
        raise ReplayRefused(f"no dead letter {letter_id!r}")
    if len(matches) > 1:
        raise ReplayRefused(f"{letter_id!r} names {len(matches)} dead letters; give more of the id")
    return matches[0]


async def replay(settings: Settings, letters: list[DeadLetterRecord], *, again: bool = False,
                 replayed_by: str | None = None) -> list[dict[str, Any]]:
    """Publish each letter's original record to its original topic, keyed as before, and record it.

    A letter replayed before is refused (``ReplayRefused``) unless ``again``; nothing is published
    then. Returns the replay records written to ``dlq.replayed``."""
    already = [letter.letter_id for letter in letters if letter.replayed]
    if already and not again:
        raise ReplayRefused(f"already replayed: {', '.join(already)} (replay again with --again)")
    # a letter of an oversized record holds only an excerpt: replaying it would publish a truncation
    excerpts = [letter.letter_id for letter in letters if letter.headers.get("x-dlq-excerpt") == "true"]
    if excerpts:
        raise ReplayRefused(f"only an excerpt was kept of: {', '.join(excerpts)} (the sender must send it again; "
                            "find the original by x-original-topic/-partition/-offset)")
    if not letters:
        return []
    await ensure_topics(settings, [f"{settings.topic_prefix}{REPLAY_LOG}"])
    producer: AIOKafkaProducer = make_producer(settings, client_id="careloop-dlq-replay")
    await producer.start()
    done: list[dict[str, Any]] = []
    try:
        who = replayed_by or _operator()
        for letter in letters:
            headers = [*letter.original_headers(), ("x-replay-of", letter.letter_id.encode())]
            metadata = await (await producer.send(letter.original_topic, value=letter.payload, key=letter.key,
                                                  headers=headers))
            entry = {
                "letter_id": letter.letter_id, "replayed_at": datetime.now(UTC).isoformat(), "replayed_by": who,
                "to": f"{metadata.topic}:{metadata.partition}:{metadata.offset}",
                "from": f"{letter.dlq_topic}:{letter.partition}:{letter.offset}", "kind": letter.kind,
                "reason": letter.reason[:300],
            }
            # Recorded only after the broker acknowledged the replay: a crash in between leaves it
            # unrecorded, and a second replay is then harmless for events (consumers dedupe on ids).
            await (await producer.send(f"{settings.topic_prefix}{REPLAY_LOG}", key=letter.letter_id.encode(),
                                       value=json.dumps(entry).encode()))
            letter.replays.append(entry)
            done.append(entry)
    finally:
        await producer.stop()
    return done


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
