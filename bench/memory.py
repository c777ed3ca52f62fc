"""B10: the service's resident memory while it learns a long stream, after warm-up.

A service that learns forever must not grow with the stream: the model, the windows and the
histories are bounded by settings, not by the number of events. The real service learns a
topic that a producer keeps filling; its RSS is read from ``/proc`` every tenth of the run,
and the slope after the first fifth (warm-up: imports settle, windows fill, allocator pools
grow) is reported per 100,000 events. Fetching happens in the fetch process, which is measured
too: it must not grow either.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bench.protocol import BenchOptions, BenchResult, at_most, child_processes, spread
from bench.servers import Server
from bench.stack import (
    broker,
    fill_topic,
    learned,
    make_events,
    new_topic,
    service_env,
    start_learning_service,
    wait_learned,
)

__all__ = ["growth"]

_CHUNK = 50_000


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MiB per 100,000 events."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return covariance / variance * 100_000 if variance else 0.0


def _refill(servers: str, topic: str, events: list[dict[str, object]], times: int) -> None:
    for _ in range(times):
        fill_topic(servers, topic, events)


def _one_run(options: BenchOptions, servers: str, total: int) -> tuple[float, float, float, float]:
    """Learn ``total`` events; the service's and the fetcher's slopes, first and last RSS."""
    topic = new_topic(servers)
    events = make_events(_CHUNK, seed=7)
    fill_topic(servers, topic, events)
    server: Server = start_learning_service(service_env(servers, topic, model=options.model))
    try:
        # Keep the topic ahead of the learner: the same events again and again (a stream's
        # length, not its novelty, is what must not cost memory).
        filler = threading.Thread(
            target=_refill, args=(servers, topic, events, total // _CHUNK - 1), daemon=True
        )
        filler.start()
        fetcher = child_processes(server.pid)[0]
        service_points, fetch_points = [], []
        for step in range(1, 11):
            wait_learned(server, 0, step * total // 10 - 1, timeout=600)
            count, _ = learned(server)
            service_points.append((count, _rss_mib(server.pid)))
            fetch_points.append((count, _rss_mib(fetcher)))
        filler.join()
    finally:
        server.stop()
    warm = service_points[2:], fetch_points[2:]
    return _slope(warm[0]), _slope(warm[1]), service_points[2][1], service_points[-1][1]


def growth(options: BenchOptions) -> list[BenchResult]:
    """B10 over 1,000,000 events (smoke: 30,000)."""
    total = 30_000 if options.smoke else 1_000_000
    repetitions = 1 if options.smoke else min(options.repetitions, 2)
    slopes, fetch_slopes, first, last = [], [], [], []
    with broker(options) as servers:
        for _ in range(repetitions):
            service, fetch, start_rss, end_rss = _one_run(options, servers, total)
            slopes.append(service)
            fetch_slopes.append(fetch)
            first.append(start_rss)
            last.append(end_rss)
    return [
        BenchResult(
            "B10",
            f"RSS growth after warm-up, {options.model}, {total:,} events",
            spread(slopes),
            "MiB/100k events",
            must=at_most(1.0),
            stretch=at_most(0.1),
            details={
                "service RSS after warm-up → at the end (MiB)": f"{spread(first)} → {spread(last)}",
                "fetch process growth (MiB/100k events)": str(spread(fetch_slopes)),
            },
        )
    ]
