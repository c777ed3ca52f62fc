"""A fetch process that dies is replaced from the learned offsets: nothing lost, nothing twice.

The kill lands at a known point: every event of the topic so far is learned, the fetch process
is frozen (SIGSTOP) so that it fetches none of the events produced next, and only then is it
killed. Its replacement must start exactly where the learning stopped: from an earlier offset
some events would be learned twice, from a later one (the end of the topic, say) they would be
lost, and either shows in the counts and the metrics below.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.fixtures.service import fetch_children, one_fetch_child
from tests.system.streams import assert_equivalent_to_river, produce, read_back

pytestmark = pytest.mark.kafka

BEFORE = 5_000  # learned through the first fetch process
AFTER = 15_000  # produced while it is frozen: only its replacement can fetch them
EVENTS = BEFORE + AFTER


def test_a_killed_fetch_process_is_replaced_and_the_model_is_as_if_it_never_died(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic()
    produce(kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", str(BEFORE))
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        model="logreg",
        drift_detection=False,
    )
    service.wait_handled(BEFORE)
    first = one_fetch_child(service)
    os.kill(first, signal.SIGSTOP)
    produce(
        kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", str(AFTER),
        "--seed", "2",
    )  # fmt: skip
    # The known point: the topic holds EVENTS, the learner has BEFORE, nothing is in between.
    assert service.http.get("/model").json()["offsets"] == {"0": BEFORE}
    assert service.sample("driftline_fetch_restarts_total") == 0.0

    os.kill(first, signal.SIGKILL)
    second = one_fetch_child(service, other_than=first)
    model = service.wait_handled(EVENTS)

    assert service.sample("driftline_fetch_restarts_total") == 1.0
    assert fetch_children(service) == [second]  # the replacement finished the stream
    # Ready again: a fetch process reads its connection count once a second, so a new one may
    # say "not connected" for its first second even while it delivers.
    service.wait_until(lambda: service.http.get("/ready").status_code == 200, 10, "ready again")
    assert model["offsets"] == {"0": EVENTS}
    # Learned once each: the model's count and the process's count of learning steps.
    assert model["events_learned"] == EVENTS
    assert service.sample("driftline_events_learned_total") == EVENTS
    assert service.sample("driftline_events_consumed_total") == EVENTS
    # The same events, learned by River alone in Kafka's order: the same model and metrics.
    events = read_back(kafka_broker.bootstrap_servers, topic, EVENTS)
    assert_equivalent_to_river(service, "logreg", events)
