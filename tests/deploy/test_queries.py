"""Every query is real: each PromQL expression of the dashboards and alert rules returns data.

A real Prometheus (Debian's binary) scrapes a real service learning a drifting stream from
the real broker, with the deployed scrape configuration and alert rules (only the target
and the intervals changed). Then every dashboard query and every alert expression is
evaluated through Prometheus' HTTP API. For each one:

- it must evaluate (a typo in a function or a label matching error fails here);
- a dashboard panel query must return at least one series;
- every operand that a comparison or ``and``/``or``/``unless`` filters must return data on
  its own: ``x > 0.2`` is empty both when x is below 0.2 and when x does not exist, and only
  the second is a bug;
- every selector it names, label matchers included (``driftline_drift_alarms_total
  {kind="concept"}``), must match at least one series.

The rules must also evaluate without error inside Prometheus.
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from tests.deploy.promql import filtered_operands, normalized, selectors
from tests.deploy.sources import (
    ALERTS,
    PROMETHEUS_CONFIG,
    Query,
    alert_queries,
    dashboard_queries,
    load_yaml,
)
from tests.fixtures.prometheus import PrometheusServer

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS_PER_CONCEPT = 4000
UNLABELLED = 20
MALFORMED = [b"not json", b'{"features": {}}', b'{"features": {"x0": "NaN"}, "label": 1e999}']
ROLLING_WINDOW = 500  # small, so the accuracy alert's "window full" condition holds
SCRAPE_INTERVAL = "1s"
PREDICT_SECONDS = 6.0  # several scrapes with requests, inside the 30 s of $__rate_interval
SCRAPES_AFTER_LEARNING = 3


def drifting_stream(seed: int = 7) -> Iterator[dict[str, Any]]:
    """Concept A, then an abrupt change to concept B with a shifted feature x2.

    Concept A is ``x0 + x1 > 1``; concept B is ``x0 < x1``, orthogonal to it, so a model of A
    is right half of the time on B. x2 is noise whose mean moves by 0.5 at the change, which
    the data drift detectors should see.
    """
    rng = random.Random(seed)
    for i in range(2 * EVENTS_PER_CONCEPT):
        after = i >= EVENTS_PER_CONCEPT
        x0, x1 = rng.random(), rng.random()
        x2 = rng.gauss(0.5 if after else 0.0, 0.2)
        label = x0 < x1 if after else x0 + x1 > 1
        yield {"features": {"x0": x0, "x1": x1, "x2": x2}, "label": label}


def send_messages(bootstrap_servers: str, topic: str) -> int:
    """Send the stream, some unlabelled events and some malformed messages; return the count."""
    messages = [orjson.dumps(event) for event in drifting_stream()]
    rng = random.Random(11)
    messages += [
        orjson.dumps({"features": {"x0": rng.random(), "x1": rng.random(), "x2": 0.5}})
        for _ in range(UNLABELLED)
    ]
    messages += MALFORMED
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=20)
    try:
        for message in messages:
            producer.send(topic, message)
        producer.flush()
    finally:
        producer.close()
    return len(messages)


def predict_for(service: Any, seconds: float) -> None:
    """Ask both prediction endpoints, and send one invalid request, for ``seconds``."""
    rng = random.Random(3)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        features = {"x0": rng.random(), "x1": rng.random(), "x2": rng.random()}
        assert service.http.post("/predict", json={"features": features}).status_code == 200
        batch = {"instances": [{"features": features}] * 3}
        assert service.http.post("/predict/batch", json=batch).status_code == 200
        assert service.http.post("/predict", json={"features": {}}).status_code == 422
        time.sleep(0.05)


def scrape_config(target: str) -> dict[str, Any]:
    """The deployed configuration, scraping ``target`` every second."""
    config: dict[str, Any] = copy.deepcopy(load_yaml(PROMETHEUS_CONFIG))
    config["global"].update(
        scrape_interval=SCRAPE_INTERVAL,
        scrape_timeout=SCRAPE_INTERVAL,
        evaluation_interval=SCRAPE_INTERVAL,
    )
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    return config


def scalar(prometheus: PrometheusServer, expr: str) -> float | None:
    answer = prometheus.query(expr)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def query_problems(prometheus: PrometheusServer, query: Query) -> list[str]:
    """Why ``query`` is not real, if it is not: one line per problem."""
    answer = prometheus.query(query.expr)
    if answer["status"] != "success":
        return [f"{query}\n    does not evaluate: {answer.get('error')}"]
    problems = []
    if query.kind == "panel" and not answer["data"]["result"]:
        problems.append(f"{query}\n    returns no data")
    for operand in filtered_operands(query.expr):
        if operand == normalized(query.expr):
            if query.kind != "panel" and not answer["data"]["result"]:
                problems.append(f"{query}\n    returns no data")
            continue
        # An operand that looks back (``offset 1h``) is checked as of now: this Prometheus has
        # a minute of history, and what is checked is that the series and labels are real.
        result = prometheus.query(re.sub(r"\s+offset\s+\w+", "", operand))
        if result["status"] != "success" or not result["data"]["result"]:
            problems.append(f"{query}\n    operand returns no data: {operand}")
    return problems


@pytest.fixture
def scraped_service(
    kafka_broker: Any,
    new_topic: Callable[..., str],
    service_factory: Callable[..., Any],
    prometheus_factory: Callable[..., PrometheusServer],
) -> PrometheusServer:
    """A Prometheus that has scraped a service through a drift, with the rules loaded."""
    topic = new_topic(partitions=1)
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        rolling_window=ROLLING_WINDOW,
        candidates='["nochange", "hoeffding"]',  # the leaderboard panel's series
    )
    service.wait_ready()
    prometheus = prometheus_factory(scrape_config(f"127.0.0.1:{service.port}"), [ALERTS])

    def target_up() -> bool:
        return scalar(prometheus, 'up{job="driftline"}') == 1.0

    prometheus.wait_until(target_up, 30, "the service scraped")
    count = send_messages(kafka_broker.bootstrap_servers, topic)
    service.wait_handled(count)
    predict_for(service, PREDICT_SECONDS)

    def scraped_everything() -> bool:
        return scalar(prometheus, 'max(driftline_learned_offset{partition="0"})') == count

    prometheus.wait_until(scraped_everything, 30, "the last offset scraped")
    time.sleep(SCRAPES_AFTER_LEARNING)  # a few scrapes at the final state, for rate()
    return prometheus


def rule_problems(prometheus: PrometheusServer) -> list[str]:
    """Rules that Prometheus did not load, or could not evaluate."""

    def rules() -> list[dict[str, Any]]:
        answer = prometheus.api("rules")
        assert answer["status"] == "success", answer
        return [rule for group in answer["data"]["groups"] for rule in group["rules"]]

    prometheus.wait_until(
        lambda: all(rule["health"] != "unknown" for rule in rules()), 30, "every rule evaluated"
    )
    expected = {query.where.removeprefix("alert ") for query in alert_queries()}
    loaded = {rule["name"] for rule in rules()}
    problems = [f"alert {name} not loaded" for name in sorted(expected - loaded)]
    problems += [
        f"alert {rule['name']} fails to evaluate: {rule.get('lastError')}"
        for rule in rules()
        if rule["health"] != "ok"
    ]
    return problems


def test_every_dashboard_and_alert_query_is_real(scraped_service: PrometheusServer) -> None:
    prometheus = scraped_service
    problems = rule_problems(prometheus)
    queries = dashboard_queries() + alert_queries()
    problems += [problem for query in queries for problem in query_problems(prometheus, query)]
    all_selectors = sorted({selector for query in queries for selector in selectors(query.expr)})
    missing = [selector for selector in all_selectors if not prometheus.series(selector)]
    assert not missing and not problems, (
        f"selectors without any series ({len(missing)} of {len(all_selectors)}):\n  "
        + "\n  ".join(missing)
        + f"\n\nqueries that are not real ({len(problems)}):\n"
        + "\n".join(problems)
    )
