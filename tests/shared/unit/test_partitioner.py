"""Keys go to the partitions the Java client (and aiokafka's default partitioner) would pick."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner

from shared.messaging.kafka import murmur2, partition_for


@pytest.mark.parametrize(("key", "java"), [
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed 32-bit results)
    ("21", -973932308), ("foobar", -790332482), ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
])
def test_murmur2_is_the_java_clients(key: str, java: int) -> None:
    assert murmur2(key.encode()) == java & 0xFFFFFFFF


def test_every_key_lands_where_aiokafka_would_put_it() -> None:
    rng = random.Random(7)
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(500)]
    keys += [rng.randbytes(rng.randint(0, 40)) for _ in range(500)]
    for partitions in ([0], [0, 1, 2], list(range(12))):
        for key in keys:
            assert partition_for(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert {partition_for(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert partition_for(None, [0, 1, 2], []) in {0, 1, 2}
