"""Questions now, answers later, through the real broker: River's delayed evaluation, exactly.

The producer sends a dataset as questions and answers in the order River's
``stream.simulate_qa`` gives for a delay of k events; the service joins each answer to its
question by id. Its cumulative metrics must equal ``evaluate.progressive_val_score(...,
delay=k)`` on the same examples to 1e-12, killed and restarted mid-stream or not, and a
prediction ``/predict`` served with an id must be scored when its label comes, even after the
service was SIGKILLed in between.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from river import evaluate, metrics

from service.models import build_model
from tests.fixtures.service import ServiceProcess
from tests.system.streams import (
    killed_at,
    produce,
    read_back_examples,
    records,
    start_producing,
)

pytestmark = pytest.mark.kafka

KEY = "feedback-test-key-0123456789abcdef"


def river_delayed(model_name: str, examples: list[tuple[dict, Any]], delay: int) -> Any:
    spec = build_model(model_name)
    metric = (
        metrics.Accuracy() + metrics.LogLoss()
        if spec.task == "classification"
        else metrics.MAE() + metrics.RMSE()
    )
    evaluate.progressive_val_score(examples, spec.estimator, metric, delay=delay)
    return metric


def assert_river_delayed(
    service: ServiceProcess, model_name: str, examples: list[tuple[dict, Any]], delay: int
) -> None:
    described = service.http.get("/model").json()
    assert described["events_learned"] == len(examples)
    expected = river_delayed(model_name, examples, delay)
    cumulative = described["metrics"]["cumulative"]
    for name, river_metric in zip(cumulative, expected, strict=True):
        assert cumulative[name] == pytest.approx(river_metric.get(), abs=1e-12), name
    assert service.sample("driftline_pending_questions") == 0
    joined = 'driftline_answers_joined_total{source="streamed"}'
    assert service.sample(joined) == len(examples)


@pytest.mark.parametrize("delay", [1, 50, 1000])
@pytest.mark.parametrize(
    ("dataset", "model_name", "count"),
    [("phishing", "logreg", 1250), ("trump-approval", "linreg", 1001)],
)
def test_a_delayed_stream_measures_what_rivers_delayed_progressive_validation_measures(
    kafka_broker, new_topic, service_factory, dataset: str, model_name: str, count: int, delay: int
) -> None:
    topic = new_topic(partitions=1)
    produce(kafka_broker.bootstrap_servers, topic, "dataset", dataset, "--delay", str(delay))
    service = service_factory(
        topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic, model=model_name
    )
    service.wait_handled(2 * count)
    examples = read_back_examples(kafka_broker.bootstrap_servers, topic, 2 * count)
    assert len(examples) == count
    assert_river_delayed(service, model_name, examples, delay)


STREAM = 6_000  # events: 12,000 messages
RATE = 1_500  # messages/s


def settings_for(topic: str, state_dir: Path) -> dict:
    return {
        "topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "group_id": topic,
        "model": "logreg",
        "state_dir": state_dir,
        "checkpoint_key": KEY,
        "checkpoint_every_events": 500,
        "checkpoint_every_s": 0.5,
    }


@pytest.mark.slow
def test_sigkills_with_questions_in_flight_leave_the_uninterrupted_delayed_evaluation(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    state_dir = tmp_path / "state"
    kill_points = sorted(random.Random("feedback-kills").sample(range(1_000, 9_000), 2))
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(STREAM),
        "--delay", "200", rate=RATE,
    )  # fmt: skip

    def past(service: ServiceProcess, point: int) -> bool:
        offsets = service.http.get("/model").json()["offsets"]
        pending = service.sample("driftline_pending_questions") or 0
        return offsets.get("0", 0) >= point and pending > 0 and any(state_dir.glob("*.ckpt"))

    try:
        service = killed_at(service_factory, settings_for(topic, state_dir), kill_points, past)
        service.wait_handled(2 * STREAM, timeout=180)
    finally:
        producer.wait(timeout=120)
    assert producer.returncode == 0
    examples = read_back_examples(kafka_broker.bootstrap_servers, topic, 2 * STREAM)
    assert_river_delayed(service, "logreg", examples, 200)


def test_a_served_prediction_is_scored_by_a_label_that_came_after_a_sigkill(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    state_dir = tmp_path / "state"
    produce(kafka_broker.bootstrap_servers, topic, "dataset", "phishing", "--limit", "300")
    service = service_factory(**settings_for(topic, state_dir))
    service.wait_handled(300)
    x = {"empty_server_form_handler": 1.0, "popup_window": 0.0, "https": 1.0, "is_popular": 1.0}
    served = service.http.post("/predict", json={"features": x, "id": "order-17"})
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["id"] == "order-17"
    # Killed whether or not it had read the question back: either way it is in the topic.
    assert service.stop(signal.SIGKILL) == -signal.SIGKILL

    wrong = not body["prediction"]  # the label that makes the served prediction wrong
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
    answer = orjson.dumps({"id": "order-17", "label": wrong})
    producer.send(topic, answer, key=b"order-17").get(timeout=10)
    producer.close()

    service = service_factory(**settings_for(topic, state_dir))
    service.wait_handled(302)  # the dataset, the served question, its answer
    assert service.sample('driftline_questions_total{source="served"}') == 1
    assert service.sample('driftline_answers_joined_total{source="served"}') == 1
    # Scored as served, not predicted afresh: the label contradicts what was served.
    assert service.sample('driftline_joined_accuracy_ratio{source="served"}') == 0.0
    assert service.sample("driftline_pending_questions") == 0
    assert service.http.get("/model").json()["events_learned"] == 301


# --- answers on a feedback topic of their own ---------------------------------------------------


def handled_in_both(service: ServiceProcess, count: int) -> bool:
    described = service.http.get("/model").json()
    return sum(described["offsets"].values()) + sum(described["feedback_offsets"].values()) >= count


def test_answers_on_their_own_topic_measure_what_rivers_delayed_evaluation_measures(
    kafka_broker, new_topic, service_factory
) -> None:
    """Questions on a two-partition event topic, answers on a two-partition feedback topic:
    the service merges the four partitions by record time into the order they were sent."""
    topic, answers = new_topic(partitions=2), new_topic(partitions=2)
    produce(
        kafka_broker.bootstrap_servers, topic, "dataset", "phishing",
        "--delay", "50", "--feedback-topic", answers,
    )  # fmt: skip
    service = service_factory(
        topic=topic, feedback_topic=answers, dead_letter_topic=f"{topic}.dlq", group_id=topic
    )
    service.wait_until(lambda: handled_in_both(service, 2 * 1250), timeout=120, what="all read")
    described = service.http.get("/model").json()
    assert sum(described["offsets"].values()) == 1250  # questions only
    assert sum(described["feedback_offsets"].values()) == 1250  # answers only
    examples = read_back_examples(kafka_broker.bootstrap_servers, topic, 2 * 1250, answers)
    assert_river_delayed(service, "logreg", examples, 50)
    offset = service.sample(f'driftline_learned_offset{{partition="0",topic="{answers}"}}')
    assert offset == described["feedback_offsets"]["0"]


def test_sigkills_with_answers_on_their_own_topic_leave_the_uninterrupted_evaluation(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic, answers = new_topic(partitions=2), new_topic(partitions=1)
    state_dir = tmp_path / "state"
    events = 3_000
    kill_points = sorted(random.Random("feedback-topic-kills").sample(range(500, 4_500), 2))
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(events),
        "--delay", "100", "--feedback-topic", answers, rate=RATE,
    )  # fmt: skip

    def past(service: ServiceProcess, point: int) -> bool:
        pending = service.sample("driftline_pending_questions") or 0
        return handled_in_both(service, point) and pending > 0 and any(state_dir.glob("*.ckpt"))

    settings = {**settings_for(topic, state_dir), "feedback_topic": answers}
    try:
        service = killed_at(service_factory, settings, kill_points, past)
        service.wait_until(lambda: handled_in_both(service, 2 * events), timeout=180, what="all")
    finally:
        producer.wait(timeout=120)
    assert producer.returncode == 0
    examples = read_back_examples(kafka_broker.bootstrap_servers, topic, 2 * events, answers)
    assert_river_delayed(service, "logreg", examples, 100)


def test_what_is_not_an_answer_on_the_feedback_topic_is_dead_lettered_naming_that_topic(
    kafka_broker, new_topic, service_factory
) -> None:
    topic, answers = new_topic(partitions=1), new_topic(partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
    producer.send(topic, orjson.dumps({"id": "a", "features": {"x": 1.0}}))
    sent = [
        (b'{"features": {"x": 1.0}, "label": true}', "not_an_answer"),
        (b'{"id": "b", "features": {"x": 2.0}}', "not_an_answer"),
        (b"\xff not json", "not_utf8"),
        (b'{"id": "nobody", "label": true}', "unknown_id"),
        (b'{"id": "a", "label": true}', None),
        (b'{"id": "a", "label": false}', "duplicate_answer"),
    ]
    for value, _ in sent:
        producer.send(answers, value)
    producer.flush()
    producer.close()
    dead_letter_topic = f"{topic}.dlq"
    service = service_factory(
        topic=topic, feedback_topic=answers, dead_letter_topic=dead_letter_topic, group_id=topic
    )
    service.wait_until(lambda: handled_in_both(service, 1 + len(sent)), timeout=60, what="read")
    assert service.http.get("/model").json()["events_learned"] == 1
    bad = [(offset, reason) for offset, (_, reason) in enumerate(sent) if reason is not None]
    letters = records(kafka_broker.bootstrap_servers, dead_letter_topic, len(bad))
    found = []
    for letter in letters:
        headers = {name: value.decode() for name, value in letter.headers}
        found.append((int(headers["driftline.offset"]), headers["driftline.reason"]))
        assert headers["driftline.topic"] == answers
    assert found == bad
