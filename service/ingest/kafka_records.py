"""Records kafka-python cannot parse, handed over instead of raised.

The Kafka protocol says a record header's key is a UTF-8 string, and kafka-python 3 (3.0.12)
decodes it strictly: ``DefaultRecordBatch._read_msg`` calls ``.decode("utf-8")`` on the key's
bytes, the ``UnicodeDecodeError`` (a ``ValueError``) becomes a ``CorruptRecordError("Found
invalid record structure: ...")`` in ``DefaultRecordBatch.__next__``, and
``Fetcher.PartitionRecords._unpack_records`` lets it out of ``KafkaConsumer.poll()``. The
broker does not check those bytes, so any producer can write such a record (librdkafka's kcat
does, on request). Nothing else a producer chooses can make that parser raise: keys, values
and header values are taken as raw bytes (or ``None``), timestamps and offsets are plain
integers.

What makes it worse than one lost record: kafka-python parses a batch from its first record
on, whatever offset was asked for (records before the position are dropped only *after*
parsing), so every fetch that lands in that batch raises again, and the records after the bad
one in the batch can never be read. Seeking past the bad offset does not help.

:func:`install` (called by the fetch process, which does nothing else with kafka-python's
parser) swaps ``DefaultRecordBatch.__next__`` for a copy whose *failure* branch reads the
record again, tolerantly: a record whose only fault is a header key that is not UTF-8 comes out
as a normal record whose ``headers`` is an :class:`UnreadableHeaders` (empty, so kafka-python's
own bookkeeping of header sizes works) carrying the raw header bytes and what is wrong, the
batch goes on with the next record, and :func:`handed_over` counts it (so a reader looks for
such records only in a poll that brought some). The fetch process dead-letters it by offset
with its key and value. A batch whose structure is broken (which a broker validating its input never
stores) still raises: that is the fetch process's named failure, restarted with backoff and
reported by ``/ready``. The common path runs the library's own code unchanged: the copy differs
only after an exception.

Examples
--------
>>> from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
>>> install()
>>> builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 16384)
>>> _ = builder.append(0, 1000, None, b"{}", [("\\u00e9", b"v")])
>>> raw = bytes(builder.build()).replace(b"\\xc3\\xa9", b"\\xff\\xfe")  # the key's bytes
>>> [record] = list(DefaultRecordBatch(raw))
>>> record.value, record.headers.problem
(b'{}', "header 0's key is not UTF-8 (b'\\\\xff\\\\xfe')")
"""

from __future__ import annotations

from typing import Any

from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecord, DefaultRecordBatch
from kafka.record.util import decode_varint

__all__ = ["UnreadableHeaders", "handed_over", "install"]

# How many bytes of a bad header key the problem quotes.
_QUOTED_KEY_BYTES = 32
# The library's own iterator, kept for tests that show what it does.
_library_next = DefaultRecordBatch.__next__
# Records handed over so far in this process: a reader compares it once a poll, so the records
# of the common poll need no check each.
_handed_over = 0


class UnreadableHeaders(list[tuple[str, bytes | None]]):
    """Stands for the headers of a record whose header keys are not all UTF-8 (it is empty)."""

    __slots__ = ("problem", "raw")

    def __init__(self, raw: bytes, problem: str) -> None:
        super().__init__()
        self.raw = raw
        """The record's header section as stored: count, then each key and value."""
        self.problem = problem


def install() -> None:
    """Make kafka-python's v2 batch iterator hand over records with non-UTF-8 header keys."""
    DefaultRecordBatch.__next__ = _next
    DefaultRecordBatch.next = _next


def handed_over() -> int:
    """How many unparsable records this process's parser has handed over so far."""
    return _handed_over


def _next(self: Any) -> Any:
    """kafka-python 3.0.12's ``DefaultRecordBatch.__next__``, but for the failure branch."""
    if self._next_record_index >= self._num_records:
        if self._pos != len(self._buffer):
            raise CorruptRecordError(
                f"{len(self._buffer) - self._pos} unconsumed bytes after all records consumed"
            )
        raise StopIteration
    try:
        msg = self._read_msg()
    except (ValueError, IndexError) as err:
        msg = _read_tolerantly(self)
        if msg is None:
            raise CorruptRecordError(f"Found invalid record structure: {err!r}") from err
    self._next_record_index += 1
    return msg


def _read_tolerantly(batch: Any) -> DefaultRecord | None:
    """The record at the batch's position if only its header keys are wrong, else ``None``.

    Mirrors ``DefaultRecordBatch._read_msg`` (the v2 record format) without decoding keys.
    """
    if batch.is_control_batch:
        return None
    buffer = batch._buffer
    try:
        length, pos = decode_varint(buffer, batch._pos)
        start = pos
        _, pos = decode_varint(buffer, pos)  # attributes
        ts_delta, pos = decode_varint(buffer, pos)
        if batch.timestamp_type == batch.LOG_APPEND_TIME:
            timestamp = batch.max_timestamp
        else:
            timestamp = batch.first_timestamp + ts_delta
        offset_delta, pos = decode_varint(buffer, pos)
        key_len, pos = decode_varint(buffer, pos)
        key = None
        if key_len >= 0:
            key = bytes(buffer[pos : pos + key_len])
            pos += key_len
        value_len, pos = decode_varint(buffer, pos)
        value = None
        if value_len >= 0:
            value = bytes(buffer[pos : pos + value_len])
            pos += value_len
        headers_start = pos
        count, pos = decode_varint(buffer, pos)
        if count < 0:
            return None
        problem = None
        for index in range(count):
            key_size, pos = decode_varint(buffer, pos)
            if key_size < 0:
                return None
            h_key = bytes(buffer[pos : pos + key_size])
            pos += key_size
            if problem is None:
                try:
                    h_key.decode("utf-8")
                except UnicodeDecodeError:
                    quoted = h_key[:_QUOTED_KEY_BYTES]
                    problem = f"header {index}'s key is not UTF-8 ({quoted!r})"
            value_size, pos = decode_varint(buffer, pos)
            if value_size >= 0:
                pos += value_size
    except (ValueError, IndexError):
        return None
    if pos - start != length or pos > len(buffer) or problem is None:
        return None  # broken structure, or a failure this reader does not know
    global _handed_over
    _handed_over += 1
    batch._pos = pos
    headers = UnreadableHeaders(bytes(buffer[headers_start:pos]), problem)
    return DefaultRecord(
        length,
        batch.base_offset + offset_delta,
        timestamp,
        batch.timestamp_type,
        key,
        value,
        headers,
    )
