"""The dead-letter sink: a refused message goes to its topic, with why, before it is passed.

A dead letter carries the original key and value and five headers (the reason, a detail, and
the topic, partition and offset it came from). It is acknowledged by the broker before the
worker moves past its offset, so a crash never loses a refused message: it is refused again.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from service.errors import DriftlineError
from service.events import Rejection
from service.ingest.kafka import RETRY_PAUSE_S
from service.ingest.wire import FetchedRecord

__all__ = ["DEAD_LETTER_HEADERS", "DeadLetterSink"]

log = logging.getLogger(__name__)

DEAD_LETTER_HEADERS = (
    "driftline.reason",
    "driftline.detail",
    "driftline.topic",
    "driftline.partition",
    "driftline.offset",
)
# Wait this long for the broker's ack, per attempt.
_ACK_TIMEOUT_S = 10.0


class DeadLetterSink:
    """Sends refused records of ``source_topic`` (and of ``feedback_topic``, if read) to
    ``topic`` and waits for each ack."""

    def __init__(
        self,
        producer: KafkaProducer,
        topic: str,
        source_topic: str,
        stopped: threading.Event,
        feedback_topic: str | None = None,
    ) -> None:
        self._producer = producer
        self.topic = topic
        self._source_topic = source_topic
        self._feedback_topic = feedback_topic
        self._stopped = stopped

    def send(self, record: FetchedRecord, rejection: Rejection) -> None:
        """Send one dead letter; retried until acknowledged (raises only if stopped first)."""
        detail = rejection.detail
        # kafka-python sends no record without a key and a value: a tombstone without a key
        # goes as an empty value (its reason, null_value, says what it was).
        value = b"" if record.value is None and record.key is None else record.value
        while True:
            try:
                future = self._producer.send(
                    self.topic,
                    value=value,
                    key=record.key,
                    headers=self._headers(record, rejection, detail),
                )
                future.get(timeout=_ACK_TIMEOUT_S)
                return
            except MessageSizeTooLargeError:
                if not value:
                    raise
                # The headers tipped it over the limit: the value cannot travel, its place can.
                detail = f"{rejection.detail} (the {len(value)}-byte value was too large to copy)"
                value = b"" if record.key is None else None
            except KafkaError as error:
                # The offset must not be passed before its dead letter is safe: keep trying.
                log.warning("dead letter for offset %d not acknowledged: %s", record.offset, error)
                if self._stopped.wait(RETRY_PAUSE_S):
                    raise DriftlineError("stopped before a dead letter was acknowledged") from error

    def _headers(
        self, record: FetchedRecord, rejection: Rejection, detail: str
    ) -> list[tuple[str, bytes]]:
        values = (
            rejection.reason.value,
            detail,
            self._source_topic if not record.feedback else str(self._feedback_topic),
            str(record.partition),
            str(record.offset),
        )
        return [
            (name, text.encode()) for name, text in zip(DEAD_LETTER_HEADERS, values, strict=True)
        ]

    def close(self) -> None:
        self._producer.close(timeout=5)
