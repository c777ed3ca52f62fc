"""End to end on the real broker: the service's numbers are River's numbers.

A dataset goes through the producer into a one-partition topic; the service learns it from
Kafka; its cumulative metrics must equal ``river.evaluate.progressive_val_score`` on the same
events in the same order (read back from the topic), and its answers on probe instances must
equal those of the same model trained offline.
"""

from __future__ import annotations

import pytest

from tests.system.streams import assert_equivalent_to_river, produce, read_back

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize(
    ("dataset", "model_name", "count"),
    [
        ("phishing", "logreg", 1250),
        ("bananas", "hoeffding", 5300),
        ("trump-approval", "linreg", 1001),
    ],
)
def test_service_metrics_and_predictions_equal_river_offline(
    kafka_broker, new_topic, service_factory, dataset: str, model_name: str, count: int
) -> None:
    topic = new_topic(partitions=1)
    produce(kafka_broker.bootstrap_servers, topic, "dataset", dataset)
    service = service_factory(
        topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic, model=model_name
    )
    service.wait_handled(count)
    events = read_back(kafka_broker.bootstrap_servers, topic, count)
    assert_equivalent_to_river(service, model_name, events)
