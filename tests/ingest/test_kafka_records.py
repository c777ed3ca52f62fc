"""kafka-python's own fetch path hands over a record whose header key is not UTF-8.

The batches are built with kafka-python's record builder, then one header key's bytes are
replaced by bytes that are not UTF-8 (what kcat or any librdkafka producer can write); they go
through ``Fetcher.PartitionRecords``, the code ``KafkaConsumer.poll()`` runs on a fetch
response. The broker-level proof is ``tests/system/test_hostile_records.py``.
"""

from __future__ import annotations

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from service.ingest import kafka_records
from service.ingest.kafka_records import UnreadableHeaders

TP = TopicPartition("events", 0)
PLACEHOLDER = "\u00e9\u00e9"  # 4 bytes in UTF-8, swapped for 4 that are not
NOT_UTF8 = b"\xff\xfe\xc3\x28"


def batch(headers_by_record: list[list[tuple[str, bytes | None]]], base_offset: int = 0) -> bytes:
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 1 << 20)
    for delta, headers in enumerate(headers_by_record):
        builder.append(delta, 1_000 + delta, b"k%d" % delta, b"v%d" % delta, headers)
    raw = bytearray(builder.build())
    raw[0:8] = base_offset.to_bytes(8, "big")
    return bytes(raw).replace(PLACEHOLDER.encode(), NOT_UTF8)


def fetched(raw: bytes, fetch_offset: int) -> list:
    records = Fetcher.PartitionRecords(fetch_offset, TP, MemoryRecords(raw), check_crcs=False)
    return records.take()


BAD = [(PLACEHOLDER, b"x")]
GOOD = [("trace", b"1"), ("empty", None)]


def test_without_the_guard_kafka_python_raises_and_loses_the_rest_of_the_batch() -> None:
    raw = batch([[], BAD, GOOD])
    library_next = kafka_records._library_next
    patched = kafka_records.DefaultRecordBatch.__next__
    kafka_records.DefaultRecordBatch.__next__ = library_next
    try:
        with pytest.raises(CorruptRecordError, match="UnicodeDecodeError"):
            fetched(raw, 1)  # asking for the bad record's offset
        with pytest.raises(CorruptRecordError, match="UnicodeDecodeError"):
            fetched(raw, 2)  # or for the good one after it, in the same batch
    finally:
        kafka_records.DefaultRecordBatch.__next__ = patched


def test_a_record_with_a_header_key_that_is_not_utf8_is_handed_over_and_the_batch_goes_on() -> None:
    kafka_records.install()
    before = kafka_records.handed_over()
    records = fetched(batch([[], BAD, GOOD, BAD], base_offset=40), 40)
    assert [(r.offset, r.key, r.value) for r in records] == [
        (40, b"k0", b"v0"),
        (41, b"k1", b"v1"),
        (42, b"k2", b"v2"),
        (43, b"k3", b"v3"),
    ]
    assert [type(r.headers) for r in records] == [list, UnreadableHeaders, list, UnreadableHeaders]
    assert records[2].headers == GOOD
    assert "header 0's key is not UTF-8" in records[1].headers.problem
    assert NOT_UTF8 in records[1].headers.raw
    assert kafka_records.handed_over() == before + 2


def test_a_fetch_from_inside_the_batch_after_the_bad_record_gets_the_rest() -> None:
    kafka_records.install()
    records = fetched(batch([BAD, [], GOOD]), 1)
    assert [(r.offset, r.headers) for r in records] == [(1, []), (2, GOOD)]


def test_a_record_whose_structure_is_broken_still_raises() -> None:
    kafka_records.install()
    raw = bytearray(batch([BAD]))
    count = raw.index(b"v0") + 2  # the header count follows the value
    assert raw[count] == 2  # one header, as a zigzag varint
    raw[count] = 6  # three: the record's length no longer holds them
    with pytest.raises(CorruptRecordError, match="invalid record structure"):
        fetched(bytes(raw), 0)
