"""The ingest worker's Kafka clients: connect, find the partitions, place them, commit.

Every step that waits for the broker (creating the consumer, creating the topics, finding the
topic) retries under one tenacity policy: a pause of :data:`RETRY_PAUSE_S` between attempts,
each failure logged, until it succeeds or the worker is stopped (then it returns ``None``).
The worker reads every partition by explicit assignment (one global model must never be split
by a consumer-group rebalance); offsets are committed to the group only so that lag is visible
to Kafka's tools, correctness does not depend on them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from service.config import Settings
from service.ingest.topics import ensure_topics

__all__ = ["RETRY_PAUSE_S", "KafkaLink", "kafka_client_config"]

log = logging.getLogger(__name__)

RETRY_PAUSE_S = 1.0
"""Between two attempts to reach the broker, create the topics or find the topic."""

_T = TypeVar("_T")


def kafka_client_config(settings: Settings) -> dict[str, Any]:
    """Options every Kafka client of the service shares: where the brokers are, and how to talk."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": "driftline",
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism is not None:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    for option in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(settings, option)
        if path is not None:
            config[option] = str(path)
    return config


class _NotYet(Exception):
    """A step's answer is not there yet (the topic does not exist): try again."""


class KafkaLink:
    """The worker's consumer and the calls it makes to the broker; owned by one thread."""

    def __init__(self, settings: Settings, stopped: threading.Event) -> None:
        self.settings = settings
        self.consumer: KafkaConsumer | None = None
        self._stopped = stopped

    def _pause(self, seconds: float) -> None:
        """Tenacity's sleep, cut short by a stop."""
        self._stopped.wait(seconds)

    def _until_stopped(self, step: Callable[[], _T], what: str) -> _T | None:
        """``step()``, tried again after each Kafka error until it succeeds or we are stopped."""

        def log_failure(attempt: tenacity.RetryCallState) -> None:
            outcome = attempt.outcome
            error = outcome.exception() if outcome is not None else None
            level = logging.INFO if isinstance(error, _NotYet) else logging.WARNING
            log.log(level, "%s: %s", what, error)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((KafkaError, _NotYet)),
            wait=tenacity.wait_fixed(RETRY_PAUSE_S),
            stop=lambda _: self._stopped.is_set(),
            sleep=self._pause,
            before_sleep=log_failure,
        )
        try:
            return retrying(step)
        except tenacity.RetryError:  # stopped before it succeeded
            return None

    def connect(self) -> KafkaConsumer | None:
        """The consumer, once the broker answers; ``None`` if stopped first."""
        settings = self.settings
        self.consumer = self._until_stopped(
            lambda: KafkaConsumer(
                **kafka_client_config(settings),
                group_id=settings.group_id,
                enable_auto_commit=False,
                # Never jump silently: a lost offset raises, and the policy decides.
                auto_offset_reset="none",
                max_poll_records=settings.max_poll_records,
            ),
            f"cannot reach Kafka at {settings.bootstrap_servers}",
        )
        return self.consumer

    def create_topics(self) -> None:
        """Create the event, feedback and dead-letter topics where missing
        (``DRIFTLINE_CREATE_TOPICS``); the feedback topic gets as many partitions as events."""
        settings = self.settings
        topics = {settings.topic: settings.topic_partitions, settings.dead_letter_topic: 1}
        if settings.feedback_topic is not None:
            topics[settings.feedback_topic] = settings.topic_partitions

        def create() -> None:
            admin = KafkaAdminClient(**kafka_client_config(settings))
            try:
                ensure_topics(admin, topics)
            finally:
                admin.close()

        self._until_stopped(create, f"cannot create topics {sorted(topics)}")

    def partitions(self, topic: str) -> set[int] | None:
        """A topic's partitions, once it exists; ``None`` if stopped first."""
        consumer = self.consumer
        assert consumer is not None

        def find() -> set[int]:
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise _NotYet(f"topic {topic} does not exist yet")
            return set(found)

        return self._until_stopped(find, f"waiting for topic {topic}")

    def cluster_id(self) -> str | None:
        """The Kafka cluster's id, or ``None`` when it cannot be read (then it is not checked)."""
        try:
            admin = KafkaAdminClient(**kafka_client_config(self.settings))
            try:
                cluster_id = admin.describe_cluster().get("cluster_id")
            finally:
                admin.close()
        except KafkaError as error:
            log.warning("cannot read the Kafka cluster id (not checked): %s", error)
            return None
        return cluster_id if isinstance(cluster_id, str) else None

    def dead_letter_producer(self) -> KafkaProducer:
        """An idempotent producer that waits for every replica: a dead letter must not be lost."""
        return KafkaProducer(
            **kafka_client_config(self.settings), acks="all", enable_idempotence=True
        )

    def assign(
        self, partitions: dict[str, set[int]], learned: dict[str, dict[int, int]]
    ) -> dict[str, dict[int, int]]:
        """Take every partition of each topic and place it; returns where each one starts.

        A partition the (restored) learner has positions for continues there; the others
        follow ``DRIFTLINE_START_FROM`` (earliest, latest, or the group's committed offset).
        """
        consumer = self.consumer
        assert consumer is not None
        assignment = [
            TopicPartition(topic, p) for topic, found in partitions.items() for p in sorted(found)
        ]
        consumer.assign(assignment)
        fresh = []
        for tp in assignment:
            offsets = learned.get(tp.topic, {})
            if tp.partition in offsets:
                consumer.seek(tp, offsets[tp.partition])
            else:
                fresh.append(tp)
        for topic, offsets in learned.items():
            if offsets:
                log.info(
                    "%s: continuing from learned offsets %s", topic, dict(sorted(offsets.items()))
                )
        start_from = self.settings.start_from
        if fresh and start_from == "latest":
            consumer.seek_to_end(*fresh)
        elif fresh and start_from == "committed":
            for tp in fresh:
                committed = consumer.committed(tp)
                if committed is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
        elif fresh:
            consumer.seek_to_beginning(*fresh)
        starts: dict[str, dict[int, int]] = {topic: {} for topic in partitions}
        for tp in assignment:
            starts[tp.topic][tp.partition] = consumer.position(tp)
        return starts

    def commit(self, positions: dict[str, dict[int, int]]) -> None:
        """Commit each topic's learned positions to the group (for lag views; a failure loses
        nothing)."""
        consumer = self.consumer
        offsets = {
            TopicPartition(topic, p): OffsetAndMetadata(offset, "", -1)
            for topic, learned in positions.items()
            for p, offset in learned.items()
        }
        if consumer is None or not offsets:
            return
        try:
            consumer.commit(offsets)
        except KafkaError as error:
            log.warning("offset commit failed (lag view only, nothing lost): %s", error)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close(autocommit=False)
