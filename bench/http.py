"""B3 and B4: ``/predict`` throughput and idle latency, against a naive app and an HTTP floor.

Three servers answer the same 9-feature body, one at a time, each pinned alone to
:data:`~bench.protocol.SERVICE_CORE` while ``wrk -t1 -c16`` loads it from
:data:`~bench.protocol.LOAD_CORE`:

- *naive* (P0): :mod:`bench.naive_app`, the FastAPI app a team would write first;
- *driftline* (P): the real service, ``python -m service``, restored from a checkpoint of the
  same trained learner (no broker is reachable, so its ingest worker only retries);
- *floor*: :mod:`bench.floor_app`, bare ASGI with no model, the most this machine serves.

Before loading, both model servers must give the same probabilities for the body: the ratio
compares serving code, never two different models. The configurations run interleaved
(naive, driftline, floor, naive, ...) and B3 is the median of the per-repetition ``P ÷ P0``.
"""

from __future__ import annotations

import functools
import http.client
import math
import pickle
import re
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import port_for

from bench.protocol import (
    LOAD_CORE,
    BenchOptions,
    BenchResult,
    Level,
    at_least,
    at_most,
    interleave,
    number,
    pinned_command,
    spread,
)
from bench.servers import Server, start_server, start_service
from bench.stack import make_events
from service.events import Event
from service.learner import Learner
from service.state.checkpoint import CheckpointStore, pickle_state

__all__ = ["WrkRun", "parse_wrk", "run", "run_wrk"]

#: wrk's connections: enough to keep one server core busy, as in the reference measurements.
CONNECTIONS = 16
#: Seconds of load per measurement, and the warm-up before each (none in a smoke run).
DURATION_S, SMOKE_DURATION_S = 5, 1
WARMUP_S = 1
#: Events the served model has learned: a trained model, cheap to build.
TRAIN_EVENTS, SMOKE_TRAIN_EVENTS = 10_000, 1_000
_SEED = 7
#: B4's levels: the idle p99 bound in ms, and the fraction of the naive app's p99.
P99_MUST_MS, P99_STRETCH_MS, P99_MUST_FRACTION = 5.0, 3.5, 0.6

#: The servers' state is thrown away: a stop need not wait for a worker retrying the broker.
_STOP_TIMEOUT_S = 3.0

_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkRun:
    """What one ``wrk --latency`` run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int


def parse_wrk(output: str) -> WrkRun:
    """Read rps, p50 and p99 from ``wrk --latency``'s report; refuse a run with HTTP errors.

    Examples
    --------
    >>> report = '''  Latency Distribution
    ...      50%  812.00us
    ...      99%    2.41ms
    ...   81234 requests in 5.00s, 14.1MB read
    ... Requests/sec:  16246.80'''
    >>> parse_wrk(report)
    WrkRun(rps=16246.8, p50_ms=0.812, p99_ms=2.41, requests=81234, socket_errors=0)
    """
    percentiles = {
        float(p): float(value) * _UNITS_MS[unit] for p, value, unit in _PERCENTILE.findall(output)
    }
    rps, requests = _RPS.search(output), _REQUESTS.search(output)
    if rps is None or requests is None or 50.0 not in percentiles or 99.0 not in percentiles:
        raise ValueError(f"not a wrk --latency report:\n{output}")
    non_2xx = _NON_2XX.search(output)
    if non_2xx is not None:
        # A 422 is answered fast: a run of errors would pass for great throughput.
        raise ValueError(f"{non_2xx.group(1)} responses were not 2xx:\n{output}")
    errors = _SOCKET_ERRORS.search(output)
    return WrkRun(
        rps=float(rps.group(1)),
        p50_ms=round(percentiles[50.0], 6),
        p99_ms=round(percentiles[99.0], 6),
        requests=int(requests.group(1)),
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
    )


def run_wrk(url: str, script: Path, seconds: int, connections: int = CONNECTIONS) -> WrkRun:
    """Load ``url`` with wrk on the load core for ``seconds``; one thread, closed loop."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        pinned_command(command, LOAD_CORE),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    return parse_wrk(done.stdout)


def _train(model: str, events: int) -> Learner:
    learner = Learner.for_model(model)
    for offset, event in enumerate(make_events(events, seed=_SEED)):
        learner.learn(Event(event["features"], event["label"]), partition=0, offset=offset)
    return learner


def _post(server: Server, body: bytes) -> dict[str, Any]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{server.url}/predict answered {response.status}: {answer[:300]!r}")
    document: dict[str, Any] = orjson.loads(answer)
    return document


def _same_model(naive: dict[str, Any], driftline: dict[str, Any]) -> None:
    """Both servers' probabilities for the body, label by label (keys differ in case only)."""
    left = {k.lower(): p for k, p in naive["probabilities"].items()}
    right = {k.lower(): p for k, p in driftline["probabilities"].items()}
    if left.keys() != right.keys() or not all(
        math.isclose(left[k], right[k], rel_tol=1e-9) for k in left
    ):
        raise RuntimeError(f"the servers do not serve the same model: {left} vs {right}")


def _start_servers(options: BenchOptions, folder: Path, learner: Learner) -> dict[str, Server]:
    model_file = folder / "model.pkl"
    model_file.write_bytes(pickle.dumps(learner.model, protocol=pickle.HIGHEST_PROTOCOL))
    key = secrets.token_urlsafe(32)
    state_dir = folder / "state"
    CheckpointStore(state_dir, key=key.encode(), keep=3).save(
        pickle_state(learner), dict(learner.positions), learner.events_learned
    )
    service_env = {
        "DRIFTLINE_STATE_DIR": str(state_dir),
        "DRIFTLINE_CHECKPOINT_KEY": key,
        "DRIFTLINE_MODEL": options.model,
        # Nothing listens there: the worker retries, the service serves its checkpoint.
        "DRIFTLINE_BOOTSTRAP_SERVERS": f"127.0.0.1:{port_for.select_random()}",
        "DRIFTLINE_LOG_LEVEL": "warning",
    }
    python = sys.executable
    servers: dict[str, Server] = {}
    try:
        servers["naive"] = start_server(
            [python, "-m", "bench.naive_app", str(model_file), "--port", "{port}"],
            log_dir=folder,
        )
        servers["driftline"] = start_service(service_env, log_dir=folder)
        servers["floor"] = start_server(
            [python, "-m", "bench.floor_app", "--port", "{port}"], log_dir=folder
        )
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def run(options: BenchOptions) -> list[BenchResult]:
    """B3 (throughput ÷ naive) and B4 (idle p99) from one set of interleaved wrk runs."""
    seconds = SMOKE_DURATION_S if options.smoke else DURATION_S
    repetitions = 1 if options.smoke else options.repetitions
    trained = SMOKE_TRAIN_EVENTS if options.smoke else TRAIN_EVENTS
    learner = _train(options.model, trained)
    features = make_events(1, seed=_SEED + 1)[0]["features"]
    body = orjson.dumps({"features": features})
    with tempfile.TemporaryDirectory(prefix="driftline-bench-http-") as scratch:
        folder = Path(scratch)
        script = folder / "predict.lua"
        script.write_text(_SCRIPT.format(body=body.decode()))
        servers = _start_servers(options, folder, learner)
        try:
            _same_model(_post(servers["naive"], body), _post(servers["driftline"], body))
            _post(servers["floor"], body)

            def measure(server: Server) -> WrkRun:
                if not options.smoke:
                    run_wrk(f"{server.url}/predict", script, WARMUP_S)
                return run_wrk(f"{server.url}/predict", script, seconds)

            runs = interleave(
                {name: functools.partial(measure, server) for name, server in servers.items()},
                repetitions,
            )
        finally:
            for server in servers.values():
                server.stop(timeout=_STOP_TIMEOUT_S)
    return _results(runs, seconds, trained, options.model)


def _results(
    runs: dict[str, list[WrkRun]], seconds: int, trained: int, model: str
) -> list[BenchResult]:
    naive, driftline, floor = runs["naive"], runs["driftline"], runs["floor"]
    pairs = list(zip(naive, driftline, floor, strict=True))
    throughput = spread([d.rps / n.rps for n, d, _ in pairs])
    of_floor = spread([d.rps / f.rps for _, d, f in pairs])
    p99 = spread([d.p99_ms for d in driftline])
    p99_of_naive = spread([d.p99_ms / n.p99_ms for n, d, _ in pairs])
    setup = (
        f"wrk -t1 -c{CONNECTIONS}, {seconds} s × {len(pairs)} interleaved, "
        f"{model} after {trained:,} events"
    )
    b3 = BenchResult(
        id="B3",
        title="/predict throughput ÷ naive FastAPI app",
        measured=throughput,
        unit="× naive",
        must=at_least(2.0, "×"),
        stretch=at_least(3.0, "×"),
        details={
            "setup": setup,
            "driftline rps": str(spread([d.rps for d in driftline])),
            "naive rps": str(spread([n.rps for n in naive])),
            "floor rps": str(spread([f.rps for f in floor])),
            "P ÷ P_floor": str(of_floor),
        },
    )
    fraction = p99_of_naive.median

    def idle_p99_must(value: float) -> bool:
        return value <= P99_MUST_MS and fraction <= P99_MUST_FRACTION

    b4 = BenchResult(
        id="B4",
        title="/predict idle p99 at 16 connections",
        measured=p99,
        unit="ms",
        must=Level(
            f"≤ {number(P99_MUST_MS)} ms and ≤ {P99_MUST_FRACTION} × naive p99",
            idle_p99_must,
        ),
        stretch=at_most(P99_STRETCH_MS, " ms"),
        details={
            "setup": setup,
            "driftline p50 ms": str(spread([d.p50_ms for d in driftline])),
            "naive p99 ms": str(spread([n.p99_ms for n in naive])),
            "naive p50 ms": str(spread([n.p50_ms for n in naive])),
            "p99 ÷ naive p99": str(p99_of_naive),
            "floor p99 ms": str(spread([f.p99_ms for f in floor])),
        },
    )
    return [b3, b4]
