"""B12 and B13: what questions and answers cost.

B12: ``/predict`` with an ``id`` writes the served prediction to the event topic and answers
once the broker has it (acks from every in-sync replica, idempotent producer). The same real
service, learning nothing else, is loaded by ``wrk -t1 -c16`` with the same body, with and
without a (fresh, per request) id, interleaved; B12 is the median of the per-repetition
throughput ratio (with id ÷ without), p50 and p99 in the details. The broker runs on the load
core, so the round trip it adds is a real one, not a mocked one.

B13: a learner asked a million questions whose labels never come stays bounded: its pending
store holds at most ``DRIFTLINE_PENDING_MAX`` (here 10,000) and the process's RSS is read every
tenth of the run; the slope after the store is full is reported per 100,000 questions.
"""

from __future__ import annotations

import functools
import gc
import os
import tempfile
from pathlib import Path

from bench.http import CONNECTIONS, DURATION_S, SMOKE_DURATION_S, WARMUP_S, WrkRun, run_wrk
from bench.memory import _rss_mib, _slope
from bench.protocol import BenchOptions, BenchResult, at_least, at_most, interleave, spread
from bench.servers import Server
from bench.stack import (
    broker,
    fill_topic,
    make_events,
    new_topic,
    predict_body,
    service_env,
    start_learning_service,
    wait_learned,
)
from service.events import Event
from service.feedback.pending import PendingStore
from service.learner import Learner

__all__ = ["pending_memory", "served_cost"]

_TRAIN = 2_000
_WITHOUT_ID = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""
# A fresh id per request: each is a new question, as in production.
_WITH_ID = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, [[{prefix}"id": "bench-]] .. counter .. [["}}]])
end
"""


def served_cost(options: BenchOptions) -> list[BenchResult]:
    """B12: /predict throughput with an id (written to Kafka) ÷ without, same service."""
    seconds = SMOKE_DURATION_S if options.smoke else DURATION_S
    repetitions = 1 if options.smoke else options.repetitions
    body = predict_body().decode()
    with broker(options) as servers, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        plain, with_id = folder / "plain.lua", folder / "with-id.lua"
        plain.write_text(_WITHOUT_ID.format(body=body))
        with_id.write_text(_WITH_ID.format(prefix=body[:-1] + ", "))
        topic = new_topic(servers)
        fill_topic(servers, topic, make_events(_TRAIN, seed=7))
        server: Server = start_learning_service(service_env(servers, topic, model=options.model))
        try:
            wait_learned(server, 0, _TRAIN - 1)

            def measure(script: Path) -> WrkRun:
                if not options.smoke:
                    run_wrk(f"{server.url}/predict", script, WARMUP_S)
                return run_wrk(f"{server.url}/predict", script, seconds)

            runs = interleave(
                {
                    "without": functools.partial(measure, plain),
                    "with": functools.partial(measure, with_id),
                },
                repetitions,
            )
        finally:
            server.stop()
    pairs = list(zip(runs["without"], runs["with"], strict=True))
    return [
        BenchResult(
            "B12",
            "/predict with an id (recorded in Kafka) ÷ without",
            spread([w.rps / p.rps for p, w in pairs]),
            "× throughput",
            must=at_least(0.2, "×"),
            stretch=at_least(0.5, "×"),
            details={
                "setup": f"wrk -t1 -c{CONNECTIONS}, {seconds} s × {len(pairs)} interleaved",
                "rps without id": str(spread([p.rps for p, _ in pairs])),
                "rps with id": str(spread([w.rps for _, w in pairs])),
                "p50 ms without → with": _before_after(pairs, "p50_ms"),
                "p99 ms without → with": _before_after(pairs, "p99_ms"),
            },
        )
    ]


def _before_after(pairs: list[tuple[WrkRun, WrkRun]], field: str) -> str:
    before = spread([getattr(p, field) for p, _ in pairs])
    return f"{before} → {spread([getattr(w, field) for _, w in pairs])}"


def pending_memory(options: BenchOptions) -> list[BenchResult]:
    """B13: RSS over 1,000,000 unanswered questions with a 10,000 cap (smoke: 30,000)."""
    total = 30_000 if options.smoke else 1_000_000
    cap = 10_000
    learner = Learner.for_model(options.model, rolling_window=1000)
    learner.feedback.pending = PendingStore(cap, ttl_seconds=7 * 86_400.0)
    features = [event["features"] for event in make_events(1_000, seed=3)]
    points: list[tuple[int, float]] = []
    sizes = []
    pid = os.getpid()
    for i in range(total):
        learner.learn(Event(features[i % 1_000], id=f"q-{i}"), 0, i, at=float(i))
        if (i + 1) % (total // 10) == 0:
            gc.collect()
            points.append((i + 1, _rss_mib(pid)))
            sizes.append(len(learner.feedback.pending))
    full = [point for point in points if point[0] > 2 * cap]
    return [
        BenchResult(
            "B13",
            f"RSS growth with unanswered questions, {total:,} asked, cap {cap:,}",
            spread([_slope(full)]),
            "MiB/100k questions",
            must=at_most(1.0),
            stretch=at_most(0.1),
            details={
                "RSS (MiB), first tenth → end": f"{points[0][1]:.1f} → {points[-1][1]:.1f}",
                "pending store size at each tenth": ", ".join(map(str, sizes)),
                "expired (capacity)": str(learner.feedback.pending.expired["capacity"]),
            },
        )
    ]
