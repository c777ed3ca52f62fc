"""B5 (learning must not slow /predict down) and B6 (how soon an event shapes the answers).

Both run the real service (``python -m service``) on the service core against a real local
broker, with its fetch process, the producers and ``hey`` on the load core.

B5 (a): ``/predict`` p99 at a fixed offered 1,000 requests/s while the project's producer
offers half of what the service can learn, against the same load with nothing to learn;
interleaved. (b): the time to learn a backlog with ``/predict`` at 1,000 requests/s against
without, as a ratio of learning rates.

B6: a probe writes an event, takes its offset from the broker's acknowledgement, and asks
``GET /model/offsets?partition=0&offset=O&wait_ms=…``, which answers once the model that
``/predict`` serves has learned it: produced → visible, on one host and one monotonic clock,
while a background producer offers 2,000 events/s (then 80% of S).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaProducer

from bench.protocol import BenchOptions, BenchResult, at_least, at_most, number, ratios, spread
from bench.servers import Server
from bench.stack import (
    Latency,
    broker,
    checkpoint_settings,
    fill_topic,
    hey,
    learned,
    make_events,
    new_topic,
    predict_body,
    producer_command,
    service_env,
    start_learning_service,
    wait_learned,
)

__all__ = ["checkpoint_pause", "freshness", "interference", "learning_rate", "rebuild_no_stall"]

PREDICT_RATE = 1_000.0


def _sizes(options: BenchOptions, *, seconds: float, backlog: int) -> tuple[float, int, int]:
    """Load seconds, backlog events and repetitions of a run; a few seconds' worth to smoke."""
    if options.smoke:
        return 2.0, 5_000, 1
    return seconds, backlog, options.repetitions


def learning_rate(server: Server, topic_end: int) -> float:
    """Events/s while the service learns a backlog up to ``topic_end``, between 10% and 90%."""
    start_count, _ = learned(server)
    todo = topic_end - start_count
    marks: list[tuple[float, int]] = []
    while True:
        count, _ = learned(server)
        marks.append((time.perf_counter(), count))
        if count >= topic_end:
            break
        time.sleep(0.02)
    low = next(m for m in marks if m[1] >= start_count + 0.1 * todo)
    high = next(m for m in marks if m[1] >= start_count + 0.9 * todo)
    if high[0] <= low[0]:
        return float("nan")
    return (high[1] - low[1]) / (high[0] - low[0])


def _predict_while(server: Server, seconds: float) -> Latency:
    return hey(f"{server.url}/predict", predict_body(), rate=PREDICT_RATE, seconds=seconds)


def _predict_into(server: Server, seconds: float, results: list[Latency]) -> None:
    """:func:`_predict_while` for a thread: the latency goes to ``results``."""
    results.append(_predict_while(server, seconds))


@dataclass
class _Interference:
    """One service's B5 figures, one entry per repetition."""

    alone: float = 0.0
    idle_p99: list[float] = field(default_factory=list)
    loaded_p99: list[float] = field(default_factory=list)
    lag_after: list[float] = field(default_factory=list)
    rates_alone: list[float] = field(default_factory=list)
    rates_loaded: list[float] = field(default_factory=list)
    full_speed_p99: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return ratios(self.loaded_p99, self.idle_p99)

    @property
    def ingest(self) -> list[float]:
        return ratios(self.rates_loaded, self.rates_alone)


def _interference_runs(
    options: BenchOptions, servers: str, switch_interval_ms: float | None
) -> _Interference:
    """B5 against one service; ``None`` leaves the switch interval at the service's default."""
    seconds, backlog, repetitions = _sizes(options, seconds=8.0, backlog=60_000)
    topic = new_topic(servers)
    fill_topic(servers, topic, make_events(backlog, seed=7))
    end = backlog
    settings = {} if switch_interval_ms is None else {"switch_interval_ms": str(switch_interval_ms)}
    server = start_learning_service(service_env(servers, topic, model=options.model, **settings))
    found = _Interference()
    try:
        found.alone = learning_rate(server, end)  # S: the backlog, learned with /predict idle
        for _ in range(repetitions):
            idle = _predict_while(server, seconds)
            offered = found.alone / 2
            count = int(offered * (seconds + 2))
            producer = subprocess.Popen(
                producer_command(servers, topic, offered, count),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # the producer's start-up, then a steady stream
            loaded = _predict_while(server, seconds)
            producer.wait()
            end += count
            started = time.monotonic()
            wait_learned(server, 0, end - 1)
            found.lag_after.append(time.monotonic() - started)
            found.idle_p99.append(idle.p99_ms)
            found.loaded_p99.append(loaded.p99_ms)
            # (b): a backlog alone, then a backlog under /predict load.
            fill_topic(servers, topic, make_events(backlog // 2, seed=8))
            end += backlog // 2
            found.rates_alone.append(learning_rate(server, end))
            fill_topic(servers, topic, make_events(backlog // 2, seed=9))
            end += backlog // 2
            under_load: list[Latency] = []
            load = threading.Thread(target=_predict_into, args=(server, seconds * 2, under_load))
            load.start()
            found.rates_loaded.append(learning_rate(server, end))
            load.join()
            found.full_speed_p99.append(under_load[0].p99_ms)
    finally:
        server.stop()
    return found


def interference(options: BenchOptions) -> list[BenchResult]:
    """B5 (a) and (b); a full run also measures Python's default 5 ms switch interval."""
    with broker(options) as servers:
        ours = _interference_runs(options, servers, None)
        python_default = None if options.smoke else _interference_runs(options, servers, 5.0)
    compared = {}
    if python_default is not None:
        compared = {
            "with a 5 ms switch interval: p99 loaded ÷ idle": str(spread(python_default.ratios)),
            "with a 5 ms switch interval: p99 while learning (ms)": str(
                spread(python_default.loaded_p99)
            ),
            "with a 5 ms switch interval: learning rate under load ÷ alone": str(
                spread(python_default.ingest)
            ),
            "with a 5 ms switch interval: p99 while learning a backlog (ms)": str(
                spread(python_default.full_speed_p99)
            ),
        }
    return [
        BenchResult(
            "B5a",
            "/predict p99 at 1k rps, ingest at 50% ÷ idle",
            spread(ours.ratios),
            "×",
            must=at_most(2.0),
            stretch=at_most(1.5),
            details={
                "p99 idle (ms)": str(spread(ours.idle_p99)),
                "p99 while learning (ms)": str(spread(ours.loaded_p99)),
                "S alone (events/s)": number(ours.alone),
                "caught up after the producer stopped (s)": str(spread(ours.lag_after)),
                **compared,
            },
        ),
        BenchResult(
            "B5a'",
            "/predict p99 at 1k rps while learning at 50%",
            spread(ours.loaded_p99),
            "ms",
            must=at_most(10.0),
            stretch=None,
        ),
        BenchResult(
            "B5b",
            "learning rate with /predict at 1k rps ÷ without",
            spread(ours.ingest),
            "×",
            must=at_least(0.85),
            stretch=at_least(0.9),
            details={
                "p99 while learning a backlog at full speed (ms)": str(spread(ours.full_speed_p99)),
                "learning alone (events/s)": str(spread(ours.rates_alone)),
                "learning under /predict load (events/s)": str(spread(ours.rates_loaded)),
            },
        ),
    ]


def _probe(server: Server, producer: KafkaProducer, topic: str, body: bytes) -> float:
    """Produced → visible, in ms, for one event."""
    started = time.monotonic()
    metadata = producer.send(topic, body).get(timeout=10)
    url = f"{server.url}/model/offsets?partition={metadata.partition}&offset={metadata.offset}"
    with urllib.request.urlopen(f"{url}&wait_ms=5000", timeout=15) as response:
        reached = orjson.loads(response.read())["reached"]
    if not reached:
        return float("inf")
    return (time.monotonic() - started) * 1000


def _freshness_at(
    server: Server, servers: str, topic: str, rate: float, seconds: float
) -> list[float]:
    """Freshness of probes every 20 ms while the producer offers ``rate`` events/s."""
    background = subprocess.Popen(
        producer_command(servers, topic, rate, int(rate * (seconds + 3))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=0, acks=1)
    body = orjson.dumps(make_events(1, seed=3)[0])
    try:
        time.sleep(1.5)  # the background producer's start-up
        samples = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            samples.append(_probe(server, producer, topic, body))
            time.sleep(0.02)
    finally:
        producer.close()
        background.wait()
    return samples


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def freshness(options: BenchOptions) -> list[BenchResult]:
    """B6: produced → visible at 2,000 events/s and at 80% of S."""
    seconds, backlog, repetitions = _sizes(options, seconds=10.0, backlog=40_000)
    with broker(options) as servers:
        topic = new_topic(servers)
        fill_topic(servers, topic, make_events(backlog, seed=7))
        server = start_learning_service(service_env(servers, topic, model=options.model))
        try:
            alone = learning_rate(server, backlog)
            p50s, p99s, fast_p99s = [], [], []
            for _ in range(repetitions):
                samples = _freshness_at(server, servers, topic, 2_000.0, seconds)
                p50s.append(_percentile(samples, 0.5))
                p99s.append(_percentile(samples, 0.99))
                fast = _freshness_at(server, servers, topic, 0.8 * alone, seconds)
                fast_p99s.append(_percentile(fast, 0.99))
        finally:
            server.stop()
    return [
        BenchResult(
            "B6",
            "freshness p99, produced → visible, at 2k events/s",
            spread(p99s),
            "ms",
            must=at_most(50.0),
            stretch=at_most(25.0),
            details={
                "p50 at 2k events/s (ms)": str(spread(p50s)),
                f"p99 at 80% of S = {number(0.8 * alone)} events/s (ms)": str(spread(fast_p99s)),
            },
        ),
        BenchResult(
            "B6'",
            "freshness p50 at 2k events/s",
            spread(p50s),
            "ms",
            must=at_most(10.0),
            stretch=at_most(5.0),
        ),
    ]


def _metric(server: Server, name: str) -> dict[str, float]:
    """Every sample of ``name`` on ``/metrics``, keyed by its label text."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


def _longest_pause_ms(server: Server) -> float:
    """The upper bound of the highest non-empty checkpoint-pause bucket, in ms."""
    buckets = _metric(server, "driftline_checkpoint_pause_seconds_bucket")
    counts = sorted(
        (float(key.split('le="')[1].split('"')[0]), count) for key, count in buckets.items()
    )
    previous, longest = 0.0, 0.0
    for bound, count in counts:
        if count > previous:
            longest = bound
        previous = count
    return longest * 1000


def _mean_pause_ms(server: Server) -> float:
    """The mean checkpoint pause, in ms, from the histogram's sum and count."""
    total = sum(_metric(server, "driftline_checkpoint_pause_seconds_sum").values())
    count = sum(_metric(server, "driftline_checkpoint_pause_seconds_count").values())
    return total / count * 1000 if count else float("nan")


def _learn_under_load(
    options: BenchOptions, servers: str, backlog: int, seconds: float, **settings: str
) -> tuple[Latency, float, Server]:
    """A fresh service learns a fresh backlog while /predict gets 1,000 requests/s.

    Returns the latency, the learning rate, and the (still running) server.
    """
    topic = new_topic(servers)
    fill_topic(servers, topic, make_events(backlog, seed=7))
    server = start_learning_service(service_env(servers, topic, model=options.model, **settings))
    try:
        load_result: list[Latency] = []
        load = threading.Thread(
            target=lambda: load_result.append(_predict_while(server, seconds)), daemon=True
        )
        load.start()
        rate = learning_rate(server, backlog)
        load.join()
    except BaseException:
        server.stop()
        raise
    return load_result[0], rate, server


def checkpoint_pause(options: BenchOptions) -> list[BenchResult]:
    """B9: /predict p99 and the longest learning stall while checkpoints are written."""
    seconds, backlog, repetitions = _sizes(options, seconds=6.0, backlog=60_000)
    p99_ratios, pauses, means, on_p99, off_p99 = [], [], [], [], []
    with broker(options) as servers:
        for _ in range(repetitions):
            off, _, server = _learn_under_load(options, servers, backlog, seconds)
            server.stop()
            with tempfile.TemporaryDirectory(prefix="driftline-bench-state-") as folder:
                on, _, server = _learn_under_load(
                    options,
                    servers,
                    backlog,
                    seconds,
                    checkpoint_every_events=str(backlog // 10),
                    **checkpoint_settings(Path(folder)),
                )
                try:
                    pauses.append(_longest_pause_ms(server))
                    means.append(_mean_pause_ms(server))
                finally:
                    server.stop()
            p99_ratios.append(on.p99_ms / off.p99_ms)
            on_p99.append(on.p99_ms)
            off_p99.append(off.p99_ms)
    return [
        BenchResult(
            "B9",
            f"longest learning stall for a checkpoint (histogram bucket bound), {options.model}",
            spread(pauses),
            "ms",
            must=at_most(20.0),
            stretch=at_most(5.0),
            details={
                "mean checkpoint pause (ms)": str(spread(means)),
                "p99 with checkpoints ÷ without (1k rps, learning)": str(spread(p99_ratios)),
                "p99 with checkpoints every 10% of the backlog (ms)": str(spread(on_p99)),
                "p99 without checkpoints (ms)": str(spread(off_p99)),
            },
        )
    ]


def rebuild_no_stall(options: BenchOptions) -> list[BenchResult]:
    """B11: /predict p99 and learning rate while a periodic rebuild runs in the background."""
    seconds, backlog, repetitions = _sizes(options, seconds=6.0, backlog=60_000)
    rebuilding = {
        "strategy": "periodic",
        "rebuild_every": str(backlog // 4),
        "history_size": str(backlog // 4),
    }
    p99_ratio, rate_ratio, details_p99, rebuilds = [], [], [], []
    with broker(options) as servers:
        for _ in range(repetitions):
            steady, steady_rate, server = _learn_under_load(options, servers, backlog, seconds)
            server.stop()
            busy, busy_rate, server = _learn_under_load(
                options, servers, backlog, seconds, **rebuilding
            )
            try:
                done = _metric(server, "driftline_retrains_total")
                rebuilds.append(sum(done.values()))
            finally:
                server.stop()
            p99_ratio.append(busy.p99_ms / steady.p99_ms)
            rate_ratio.append(busy_rate / steady_rate)
            details_p99.append((steady.p99_ms, busy.p99_ms))
    return [
        BenchResult(
            "B11",
            "/predict p99 while a periodic rebuild runs ÷ online only",
            spread(p99_ratio),
            "×",
            must=at_most(2.0),
            stretch=at_most(1.5),
            details={
                "learning rate, rebuilding ÷ online only": str(spread(rate_ratio)),
                "p99 online only (ms)": str(spread([s for s, _ in details_p99])),
                "p99 while rebuilding (ms)": str(spread([b for _, b in details_p99])),
                "rebuilds finished per run": str(spread(rebuilds)),
            },
        ),
        BenchResult(
            "B11-rate",
            "learning rate while rebuilding ÷ online only",
            spread(rate_ratio),
            "×",
            must=at_least(0.8),
        ),
    ]
