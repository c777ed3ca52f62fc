"""B1, B2, B7, B8: how fast the service learns from Kafka against a plain River loop.

Both sides do the same work on the same events in the same order: ``predict_proba_one``,
update the prequential metric, ``learn_one``. The baseline (B1) loops over events already
decoded into dicts; the service path (the real :class:`~service.ingest.worker.IngestWorker`, with
its fetch process) reads them from a pre-filled topic on a real local broker, validates them,
learns under the learner's lock, keeps rolling metrics and drift windows, and moves the
Prometheus metrics. The learner runs on the service core, the fetch process and the broker on
the load core. Configurations are interleaved A B C D, A B C D, ... and each ratio is the
median of per-repetition ratios.

* B2: S ÷ R and the overhead per event, 1/S − 1/R, per model.
* B7: S with the real metrics ÷ S with every metric a no-op; and the scrape time.
* B8: S with drift detection (ADWIN, PSI/K-S windows) ÷ S without.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from river import metrics

from bench.protocol import (
    LOAD_CORE,
    SERVICE_CORE,
    BenchOptions,
    BenchResult,
    at_least,
    at_most,
    child_processes,
    interleave,
    number,
    pin,
    ratios,
    spread,
)
from bench.stack import broker, fill_topic, make_events, new_topic
from service.app import drift_config
from service.config import Settings
from service.drift.watch import DriftWatch
from service.events import Event
from service.factory import candidates_of
from service.ingest.status import ConsumerState
from service.ingest.worker import IngestWorker
from service.learner import Learner
from service.metrics import LearnerCollector, ServiceMetrics
from service.models import build_model

__all__ = ["river_loop", "run", "service_ingest"]

# Per model: events per run (full, smoke) and the B2 level (must, stretch) on S ÷ R.
_SIZES = {"logreg": (100_000, 3_000), "hoeffding": (100_000, 3_000), "arf": (10_000, 500)}


def river_loop(model_name: str, events: list[dict[str, Any]]) -> float:
    """B1: the raw River loop, ``progressive_val_score``'s step; returns events/s."""
    model: Any = build_model(model_name).estimator
    metric = metrics.Accuracy() + metrics.LogLoss()
    decoded = [(e["features"], e["label"]) for e in events]
    started = time.perf_counter()
    for x, y in decoded:
        proba = model.predict_proba_one(x)
        if proba:
            metric.update(y, proba)
        model.learn_one(x, y)
    return len(decoded) / (time.perf_counter() - started)


class _NoMetric:
    """Stands for every metric, child and family at once, and does nothing (B7's baseline)."""

    def __getattr__(self, name: str) -> _NoMetric:
        return self

    def __getitem__(self, key: object) -> _NoMetric:
        return self

    def __call__(self, *args: object, **kwargs: object) -> _NoMetric:
        return self


def _pin_fetch_process() -> None:
    """Move the worker's fetch process to the load core once it exists."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in child_processes(os.getpid()):
            with contextlib.suppress(OSError):  # a child that ended meanwhile
                if b"service.ingest.fetcher" in Path(f"/proc/{child}/cmdline").read_bytes():
                    pin(child, LOAD_CORE)  # not the broker, also our child
                    return
        time.sleep(0.01)
    raise RuntimeError("the ingest worker started no fetch process within 30 s")


def service_ingest(
    model_name: str,
    bootstrap_servers: str,
    topic: str,
    count: int,
    *,
    drift: bool = True,
    real_metrics: bool = True,
    candidates: tuple[str, ...] = (),
) -> float:
    """The service's worker from the first event learned to the last; returns events/s."""
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
    if candidates:
        update = {"candidates": list(candidates), "candidates_budget_us": 1e12}
        learner.candidates = candidates_of(settings.model_copy(update=update), spec.task)
    service_metrics = (
        ServiceMetrics(CollectorRegistry()) if real_metrics else cast(ServiceMetrics, _NoMetric())
    )
    worker = IngestWorker(
        settings, learner, service_metrics, ConsumerState(), max_events=count, idle_timeout=30.0
    )
    worker.start()
    _pin_fetch_process()
    worker.join()
    if worker.error is not None or worker.handled != count:
        raise RuntimeError(f"worker handled {worker.handled}/{count}: {worker.error!r}")
    assert worker.first_record_at is not None and worker.last_record_at is not None
    return count / (worker.last_record_at - worker.first_record_at)


def _scrape_ms(model_name: str, events: list[dict[str, Any]]) -> float:
    """Milliseconds to render ``/metrics`` for a learner that has learned ``events``."""
    settings = Settings(model=model_name)
    learner = Learner.for_model(
        model_name,
        rolling_window=settings.rolling_window,
        drift=DriftWatch(drift_config(settings), build_model(model_name).task),
    )
    for offset, event in enumerate(events):
        learner.learn(Event(event["features"], event["label"]), 0, offset)
    registry = CollectorRegistry()
    ServiceMetrics(registry)
    registry.register(
        LearnerCollector(
            learner,
            ConsumerState(),
            settings.drift_exported_features,
            topics=(settings.topic, settings.feedback_topic),
        )
    )
    started = time.perf_counter()
    for _ in range(20):
        generate_latest(registry)
    return (time.perf_counter() - started) / 20 * 1000


def _overhead_us(service: list[float], loop: list[float]) -> list[float]:
    return [1e6 / s - 1e6 / r for s, r in zip(service, loop, strict=True)]


def run(options: BenchOptions) -> list[BenchResult]:
    """B1, B2 (logreg; Hoeffding tree and ARF in a full run), B7 and B8."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {SERVICE_CORE})  # threads started from here learn on it
    try:
        return _run(options)
    finally:
        os.sched_setaffinity(0, cores)


def _run(options: BenchOptions) -> list[BenchResult]:
    repetitions = 1 if options.smoke else options.repetitions
    models = ["logreg"] if options.smoke else ["logreg", "hoeffding", "arf"]
    results: list[BenchResult] = []
    with broker(options) as servers:
        for model in models:
            full, smoke = _SIZES[model]
            count = smoke if options.smoke else full
            events = make_events(count, seed=7)
            topic = new_topic(servers)
            fill_topic(servers, topic, events)
            runs: dict[str, Callable[[], float]] = {
                "loop": partial(river_loop, model, events),
                "service": partial(service_ingest, model, servers, topic, count),
            }
            if model == "logreg":
                runs["no drift"] = partial(
                    service_ingest, model, servers, topic, count, drift=False
                )
                runs["no metrics"] = partial(
                    service_ingest, model, servers, topic, count, real_metrics=False
                )
            rates = interleave(runs, repetitions)
            loop, service = rates["loop"], rates["service"]
            overhead = _overhead_us(service, loop)
            details = {
                "events": f"{count:,}",
                "R, River loop (events/s)": str(spread(loop)),
                "S, through Kafka (events/s)": str(spread(service)),
                "overhead per event (µs)": str(spread(overhead)),
            }
            if model == "logreg":
                results.append(
                    BenchResult(
                        "B1",
                        "R: the raw River loop, logreg (baseline)",
                        spread(loop),
                        "events/s",
                        details={"events": f"{count:,}"},
                    )
                )
                results.append(
                    BenchResult(
                        "B2",
                        "ingest overhead per event, logreg (1/S − 1/R)",
                        spread(overhead),
                        "µs",
                        must=at_most(8.0),
                        stretch=at_most(5.0),
                        details={**details, "S ÷ R": str(spread(ratios(service, loop)))},
                    )
                )
                results.append(
                    BenchResult(
                        "B7",
                        "S with metrics ÷ S with every metric a no-op",
                        spread(ratios(service, rates["no metrics"])),
                        "×",
                        must=at_least(0.95),
                        stretch=at_least(0.98),
                        details={
                            "S without metrics (events/s)": str(spread(rates["no metrics"])),
                            "/metrics scrape (ms)": number(_scrape_ms(model, events[:5_000])),
                        },
                    )
                )
                results.append(
                    BenchResult(
                        "B8",
                        "S with drift detection ÷ S without",
                        spread(ratios(service, rates["no drift"])),
                        "×",
                        must=at_least(0.9),
                        stretch=at_least(0.95),
                        details={"S without drift (events/s)": str(spread(rates["no drift"]))},
                    )
                )
            else:
                must, stretch = (0.9, None) if model == "hoeffding" else (0.97, None)
                results.append(
                    BenchResult(
                        f"B2-{model}",
                        f"ingest S ÷ R, {model}",
                        spread(ratios(service, loop)),
                        "×",
                        must=at_least(must),
                        stretch=None if stretch is None else at_least(stretch),
                        details=details,
                    )
                )
    return results
