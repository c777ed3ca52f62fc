"""Ingest benchmark: events/s learned through Kafka ÷ events/s of a plain River loop.

Both sides do the same work on the same events in the same order: ``predict_proba_one``,
update the prequential metrics, ``learn_one``. The baseline (B1) loops over events already
decoded into dicts; the service path (the real :class:`~service.consumer.IngestWorker`) polls
them from a pre-filled topic on a real local broker, decodes JSON, validates, learns under the
learner's lock and moves the Prometheus counters. The machine is shared and noisy, so runs are
interleaved A B A B and the median of the per-pair ratios is printed with its spread.

    python -m bench.ingest                   # starts its own broker on free ports
    python -m bench.ingest --events 20000 --repetitions 5 --model hoeffding
    python -m bench.ingest --quick           # a smoke run (the test suite uses it)
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import orjson
import port_for
import typer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry
from river import datasets, metrics, utils

from service.app import drift_config
from service.config import Settings
from service.consumer import IngestWorker
from service.drift.watch import DriftWatch
from service.learner import Learner
from service.metrics import ConsumerState, ServiceMetrics
from service.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from local_broker import LocalBroker

app = typer.Typer(add_completion=False)


def make_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Agrawal's 9 mixed features: the size of event the performance notes measure."""
    stream = datasets.synth.Agrawal(classification_function=2, seed=seed)
    return [
        {"features": {k: float(v) for k, v in x.items()}, "label": bool(y)}
        for x, y in itertools.islice(stream, count)
    ]


def fill_topic(bootstrap_servers: str, events: list[dict[str, Any]]) -> str:
    topic = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=20)
    for event in events:
        producer.send(topic, orjson.dumps(event))
    producer.flush()
    producer.close()
    return topic


def river_loop(model_name: str, events: list[dict[str, Any]], window: int) -> float:
    """B1: the raw River loop with the service's semantics; returns events/s."""
    model = build_model(model_name).estimator
    cumulative = metrics.Accuracy() + metrics.LogLoss()
    rolling_accuracy = utils.Rolling(metrics.Accuracy, window_size=window)
    rolling_loss = utils.Rolling(metrics.LogLoss, window_size=window)
    decoded = [(e["features"], e["label"]) for e in events]
    started = time.perf_counter()
    for x, y in decoded:
        proba = model.predict_proba_one(x)
        if proba:
            cumulative.update(y, proba)
            rolling_accuracy.update(y, max(proba, key=proba.get))
            rolling_loss.update(y, proba)
        model.learn_one(x, y)
    return len(decoded) / (time.perf_counter() - started)


def service_ingest(
    model_name: str, bootstrap_servers: str, topic: str, count: int, *, drift: bool = True
) -> float:
    """The service's worker from the first record to the last; returns events/s."""
    settings = Settings(
        bootstrap_servers=bootstrap_servers,
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        model=model_name,
        drift_detection=drift,
    )
    spec = build_model(model_name)
    watch = DriftWatch(drift_config(settings), spec.task) if drift else None
    learner = Learner.for_model(model_name, rolling_window=settings.rolling_window, drift=watch)
    worker = IngestWorker(
        settings,
        learner,
        ServiceMetrics(CollectorRegistry()),
        ConsumerState(),
        max_events=count,
        idle_timeout=30.0,
    )
    worker.start()
    worker.join()
    if worker.error is not None or worker.handled != count:
        raise RuntimeError(f"worker handled {worker.handled}/{count}: {worker.error!r}")
    assert worker.first_record_at is not None and worker.last_record_at is not None
    return count / (worker.last_record_at - worker.first_record_at)


@app.command()
def main(
    events: Annotated[int, typer.Option(help="Events per run.")] = 50_000,
    repetitions: Annotated[int, typer.Option(help="A/B pairs.")] = 3,
    model: Annotated[str, typer.Option(help="Model registry name.")] = "logreg",
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Use this broker instead of starting one.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="Smoke run: tiny sizes.")] = False,
) -> None:
    if quick:
        events, repetitions = 2_000, 1
    stream = make_events(events, seed=7)
    with tempfile.TemporaryDirectory() as scratch:
        broker = None
        if bootstrap_servers is None:
            port = port_for.select_random()
            broker = LocalBroker(
                data_dir=Path(scratch) / "kafka",
                port=port,
                controller_port=port_for.select_random(exclude_ports={port}),
            )
            broker.start()
            bootstrap_servers = broker.bootstrap_servers
        try:
            topic = fill_topic(bootstrap_servers, stream)
            ratios, loops, ingests, plain, drift_ratios = [], [], [], [], []
            for _ in range(repetitions):  # A B C, A B C, ...: same noise for every config
                loop_rate = river_loop(model, stream, Settings().rolling_window)
                ingest_rate = service_ingest(model, bootstrap_servers, topic, events)
                plain_rate = service_ingest(model, bootstrap_servers, topic, events, drift=False)
                loops.append(loop_rate)
                ingests.append(ingest_rate)
                plain.append(plain_rate)
                ratios.append(ingest_rate / loop_rate)
                drift_ratios.append(ingest_rate / plain_rate)
        finally:
            if broker is not None:
                broker.stop()
    overhead_us = [1e6 / s - 1e6 / r for s, r in zip(ingests, loops, strict=True)]
    drift_us = [1e6 / s - 1e6 / p for s, p in zip(ingests, plain, strict=True)]
    print(f"ingest benchmark: model={model} events={events} repetitions={repetitions}")
    print(f"  River loop (B1)            median {statistics.median(loops):>10,.0f} events/s")
    print(f"  through Kafka, drift on    median {statistics.median(ingests):>10,.0f} events/s")
    print(f"  through Kafka, drift off   median {statistics.median(plain):>10,.0f} events/s")
    print(f"  ratio Kafka/River          {_spread(ratios)}")
    print(f"  overhead per event         median {statistics.median(overhead_us):.1f} µs")
    print(f"  ratio drift on/off         {_spread(drift_ratios)}")
    print(f"  drift cost per event       median {statistics.median(drift_us):.1f} µs")


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f}  (min {min(values):.3f}, max {max(values):.3f})"


if __name__ == "__main__":
    app()
