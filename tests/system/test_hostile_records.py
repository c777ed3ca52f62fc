"""Any record the broker holds is learned or dead-lettered with a reason, in offset order.

The records come from kcat (librdkafka), not from our producer: any value (null, empty, any
bytes), any key, any headers (keys that are not UTF-8, null values). kafka-python 3 cannot
parse a record whose header key is not UTF-8 (``service.ingest.kafka_records``); before it was
handed over, such a record, or a tombstone, killed every fetch process that reached it.
"""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kafka import KafkaAdminClient, KafkaConsumer
from prometheus_client import CollectorRegistry

from service.config import Settings
from service.events import Event, Rejection, decode_event
from service.ingest.status import ConsumerState
from service.ingest.worker import IngestWorker
from service.learner import Learner
from service.metrics import ServiceMetrics
from tests.system.kcat import KEY_DELIMITER, KcatRecord, kcat_produce, kcat_produce_together

pytestmark = pytest.mark.kafka

# Bounded so the suite takes well under a minute: a kcat run per record, a worker per example.
EXAMPLES = 8
RECORDS_PER_EXAMPLE = 6


def _without(*forbidden: int) -> st.SearchStrategy[bytes]:
    alphabet = st.integers(1, 255).filter(lambda b: b not in forbidden)
    return st.lists(alphabet, min_size=1, max_size=12).map(bytes)


valid_events = st.builds(
    lambda x, label: orjson.dumps({"features": {"x": x}, "label": label}),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans() | st.none(),
)
values = st.none() | st.just(b"") | st.binary(max_size=48) | valid_events
keys = st.none() | _without(0, 10, KEY_DELIMITER[0])
# Header keys: any bytes kcat can pass (no NUL, no "="), so often not UTF-8; values any or null.
headers = st.lists(st.tuples(_without(0, ord("=")), st.none() | _without(0)), max_size=3)


@st.composite
def kcat_records(draw: st.DrawFn) -> KcatRecord:
    value, key = draw(values), draw(keys)
    if value == b"" and key is None:
        key = b""  # kcat's line mode sends an empty key there, not a null one
    return KcatRecord(value=value, key=key, headers=tuple(draw(headers)))


def expected_reason(record: KcatRecord) -> str | None:
    """The dead-letter reason the record must get, or ``None`` when it must be learned."""
    for name, _ in record.headers:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            return "bad_record"  # the public reason, as README's table names it
    decoded = decode_event(record.value)
    return decoded.reason.value if isinstance(decoded, Rejection) else None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(kcat_records(), min_size=1, max_size=RECORDS_PER_EXAMPLE))
@example(  # the stranger's records, each followed by an event that must still be learned
    records=[
        KcatRecord(value=None, key=b"tombstone"),
        KcatRecord(value=b'{"features": {"x": 1.0}, "label": true}', key=b"a"),
        KcatRecord(
            value=b'{"features": {"x": 2.0}, "label": false}', headers=((b"\xff\xfe", b"v"),)
        ),
        KcatRecord(value=b'{"features": {"x": 3.0}, "label": true}', headers=((b"ok", None),)),
    ]
)
def test_any_record_is_learned_or_dead_lettered_with_its_reason_in_offset_order(
    kafka_broker, kafka_admin: KafkaAdminClient, records: list[KcatRecord]
) -> None:
    topic = f"test_hostile_records_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    kafka_admin.wait_for_topics([topic], timeout_ms=30_000)
    for record in records:
        kcat_produce(kafka_broker.bootstrap_servers, topic, record)

    service_settings = Settings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        model="logreg",
        drift_detection=False,
    )
    learner = Learner.for_model("logreg", rolling_window=service_settings.rolling_window)
    metrics = ServiceMetrics(CollectorRegistry())
    worker = IngestWorker(
        service_settings,
        learner,
        metrics,
        ConsumerState(),
        max_events=len(records),
        idle_timeout=30.0,
    )
    worker.start()
    worker.join(60)
    worker.stop()
    assert worker.error is None

    expected = [(offset, expected_reason(record)) for offset, record in enumerate(records)]
    rejected = [(offset, reason) for offset, reason in expected if reason is not None]
    consumer = KafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3_000,
    )
    dead_letters = list(consumer)
    consumer.close()
    found = [
        (int(dict(r.headers)["driftline.offset"]), dict(r.headers)["driftline.reason"].decode())
        for r in dead_letters
    ]
    assert found == rejected  # each one with its reason, in offset order, none twice
    for letter, (offset, _) in zip(dead_letters, rejected, strict=True):
        record = records[offset]
        # Neither key nor value: kafka-python sends no such record, so the value is empty.
        value = b"" if record.value is None and record.key is None else record.value
        assert (letter.value, letter.key) == (value, record.key)
    handled = learner.events_learned + learner.events_unlabelled + len(dead_letters)
    assert handled == len(records)
    assert learner.positions == {0: len(records)}
    assert learner.events_learned == sum(
        1
        for record, (_, reason) in zip(records, expected, strict=True)
        if reason is None
        and isinstance(event := decode_event(record.value), Event)
        and event.label is not None
    )
    assert metrics.registry.get_sample_value("driftline_fetch_restarts_total") == 0  # no loop


# The largest value a topic takes by default (max.message.bytes 1,048,588 for the whole
# batch), bigger than a dead letter may be once Driftline's headers are added to it (the
# producer's max_request_size, 1,048,576).
LARGEST_VALUE = 1_048_450


def test_a_record_too_large_to_copy_is_dead_lettered_without_its_value(
    kafka_broker, new_topic
) -> None:
    topic = new_topic()
    record = KcatRecord(value=b"\xff" * LARGEST_VALUE, key=b"big")
    kcat_produce(kafka_broker.bootstrap_servers, topic, record, "-X", "message.max.bytes=1100000")
    kcat_produce(kafka_broker.bootstrap_servers, topic, KcatRecord(value=b"[1]", key=b"after"))
    service_settings = Settings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        model="logreg",
        drift_detection=False,
    )
    learner = Learner.for_model("logreg", rolling_window=service_settings.rolling_window)
    worker = IngestWorker(
        service_settings,
        learner,
        ServiceMetrics(CollectorRegistry()),
        ConsumerState(),
        max_events=2,
        idle_timeout=30.0,
    )
    worker.start()
    worker.join(60)
    worker.stop()
    assert worker.error is None
    assert learner.positions == {0: 2}  # passed, not retried for ever
    consumer = KafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3_000,
    )
    letters = list(consumer)
    consumer.close()
    assert [(r.key, r.value) for r in letters] == [(b"big", None), (b"after", b"[1]")]
    detail = dict(letters[0].headers)["driftline.detail"].decode()
    assert f"the {LARGEST_VALUE}-byte value was too large to copy" in detail


def test_a_batch_of_unparsable_records_is_passed_even_by_a_fetch_that_starts_inside_it(
    kafka_broker, new_topic
) -> None:
    # kafka-python parses a batch from its first record whatever offset it fetches from: a
    # fetch process started at offset 2 of this batch reads offsets 0 and 1 again first.
    topic = new_topic()
    event = b'{"features": {"x": 1.0}, "label": true}'
    kcat_produce_together(
        kafka_broker.bootstrap_servers, topic, [event] * 4, headers=((b"\xc3\x28", b"v"),)
    )
    kcat_produce(kafka_broker.bootstrap_servers, topic, KcatRecord(value=event))
    service_settings = Settings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        model="logreg",
        drift_detection=False,
    )
    learner = Learner.for_model("logreg", rolling_window=service_settings.rolling_window)
    for handled in (2, 3):  # the second worker (and fetch process) starts at offset 2
        worker = IngestWorker(
            service_settings,
            learner,
            ServiceMetrics(CollectorRegistry()),
            ConsumerState(),
            max_events=handled,
            idle_timeout=30.0,
        )
        worker.start()
        worker.join(60)
        worker.stop()
        assert worker.error is None
    assert learner.positions == {0: 5}
    assert learner.events_learned == 1  # the one after the batch
    consumer = KafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3_000,
    )
    letters = [(dict(r.headers), r.value) for r in consumer]
    consumer.close()
    assert [(h["driftline.offset"], h["driftline.reason"], v) for h, v in letters] == [
        (str(offset).encode(), b"bad_record", event) for offset in range(4)
    ]
