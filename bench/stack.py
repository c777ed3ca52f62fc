"""The real parts the Kafka benchmarks run against: a broker, topics, producers, the service.

Everything here stands for the world outside the service, so it runs on
:data:`~bench.protocol.LOAD_CORE`: the broker, the producers, the load generator. The service
runs on :data:`~bench.protocol.SERVICE_CORE`, its fetch process included, except in the
ingest benchmark (:mod:`bench.ingest`), where the load core has nothing else to do and
fetching there is the design's point.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import port_for
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from river import datasets

from bench.protocol import LOAD_CORE, BenchOptions, pin, pinned_command
from bench.servers import Server, start_service

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from local_broker import LocalBroker

__all__ = [
    "Latency",
    "broker",
    "checkpoint_settings",
    "fill_topic",
    "hey",
    "learned",
    "make_events",
    "new_topic",
    "predict_body",
    "producer_command",
    "service_env",
    "start_learning_service",
    "wait_learned",
]


def make_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Agrawal's 9 numeric features and a bool label: the event size the reference measured."""
    stream = datasets.synth.Agrawal(classification_function=2, seed=seed)
    return [
        {"features": {k: float(v) for k, v in x.items()}, "label": bool(y)}
        for x, y in itertools.islice(stream, count)
    ]


def predict_body() -> bytes:
    """One instance of the same stream: every HTTP benchmark posts this body."""
    return orjson.dumps({"features": make_events(1, seed=99)[0]["features"]})


@contextlib.contextmanager
def broker(options: BenchOptions) -> Iterator[str]:
    """The bootstrap servers of the broker the options name, or of a local one started here."""
    if options.bootstrap_servers is not None:
        yield options.bootstrap_servers
        return
    with tempfile.TemporaryDirectory(prefix="driftline-bench-kafka-") as scratch:
        port = port_for.select_random()
        local = LocalBroker(
            data_dir=Path(scratch) / "kafka",
            port=port,
            controller_port=port_for.select_random(exclude_ports={port}),
        )
        local.start()
        try:
            if local.pid is not None:
                pin(local.pid, LOAD_CORE)
            yield local.bootstrap_servers
        finally:
            local.stop()


def new_topic(bootstrap_servers: str, partitions: int = 1) -> str:
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        admin.create_topics(
            [
                NewTopic(topic, num_partitions=partitions, replication_factor=1),
                NewTopic(f"{topic}.dlq", num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        admin.close()
    return topic


def fill_topic(bootstrap_servers: str, topic: str, events: list[dict[str, Any]]) -> None:
    """Write ``events`` as fast as the client can; return once the broker has them all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=20)
    try:
        for event in events:
            producer.send(topic, orjson.dumps(event))
        producer.flush()
    finally:
        producer.close()


def producer_command(bootstrap_servers: str, topic: str, rate: float, limit: int) -> list[str]:
    """The project's producer posting Agrawal events at ``rate`` per second, on the load core."""
    return pinned_command(
        [
            sys.executable,
            "-m",
            "producer",
            "synth",
            "agrawal",
            "--concept",
            "2",
            "--seed",
            "7",
            "--topic",
            topic,
            "--bootstrap-servers",
            bootstrap_servers,
            "--rate",
            str(rate),
            "--limit",
            str(limit),
        ],
        LOAD_CORE,
    )


def service_env(bootstrap_servers: str, topic: str, **settings: str) -> dict[str, str]:
    """``DRIFTLINE_*`` settings of a service learning ``topic`` from its start."""
    env = {
        "DRIFTLINE_BOOTSTRAP_SERVERS": bootstrap_servers,
        "DRIFTLINE_TOPIC": topic,
        "DRIFTLINE_DEAD_LETTER_TOPIC": f"{topic}.dlq",
        "DRIFTLINE_GROUP_ID": f"bench-{uuid.uuid4().hex[:6]}",
        "DRIFTLINE_START_FROM": "earliest",
        "DRIFTLINE_LOG_LEVEL": "warning",
    }
    env.update({f"DRIFTLINE_{name.upper()}": value for name, value in settings.items()})
    return env


def checkpoint_settings(folder: Path) -> dict[str, str]:
    """Settings that turn checkpoints on, into ``folder``, with a fresh key."""
    return {"state_dir": str(folder), "checkpoint_key": secrets.token_urlsafe(32)}


def start_learning_service(env: dict[str, str]) -> Server:
    """The service, ready (holding its partitions), its fetch process with it on the service core.

    The load core is busy with the broker, the producers and the load generator in these
    runs; a fetch process there would wait behind them and add their queueing to every
    event's freshness.
    """
    return start_service(env, ready_path="/ready")


def learned(server: Server) -> tuple[int, dict[str, int]]:
    """Events learned and the learned-through offsets, from ``GET /model/offsets``."""
    with urllib.request.urlopen(f"{server.url}/model/offsets", timeout=10) as response:
        body = orjson.loads(response.read())
    return body["events_learned"], body["offsets"]


def wait_learned(server: Server, partition: int, offset: int, timeout: float = 120.0) -> float:
    """Block until ``offset`` of ``partition`` is learned; the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait_ms = int(min(5.0, deadline - time.monotonic()) * 1000)
        url = f"{server.url}/model/offsets?partition={partition}&offset={offset}&wait_ms={wait_ms}"
        with urllib.request.urlopen(url, timeout=wait_ms / 1000 + 10) as response:
            if orjson.loads(response.read())["reached"]:
                return time.monotonic()
    raise TimeoutError(f"offset {offset} of partition {partition} not learned in {timeout:.0f} s")


@dataclass(frozen=True)
class Latency:
    """What ``hey`` measured: achieved rate, latency percentiles in ms, and non-2xx answers."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def hey(url: str, body: bytes, *, rate: float, seconds: float, workers: int = 10) -> Latency:
    """POST ``body`` to ``url`` at a fixed offered ``rate`` (open loop per worker), load core.

    ``hey -q`` paces each worker; with answers in a few ms, ``workers`` × ``rate/workers``
    requests go out every second whatever the latency, which is what a latency-under-load
    figure needs (``wrk`` would back off as the server slows down).
    """
    with tempfile.NamedTemporaryFile(suffix=".json") as payload:
        payload.write(body)
        payload.flush()
        command = [
            "hey",
            "-z",
            f"{seconds}s",
            "-c",
            str(workers),
            "-q",
            str(rate / workers),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            payload.name,
            url,
        ]
        run = subprocess.run(
            pinned_command(command, LOAD_CORE), capture_output=True, text=True, check=True
        )
    return _parse_hey(run.stdout)


def _parse_hey(output: str) -> Latency:
    def seconds_at(percent: int) -> float:
        found = re.search(rf"{percent}% in ([0-9.]+) secs", output)
        if found is None:
            raise ValueError(f"no {percent}th percentile in hey's output:\n{output}")
        return float(found.group(1)) * 1000

    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)
    errors = sum(int(count) for status, count in statuses if not status.startswith("2"))
    errors += len(re.findall(r"Error distribution", output))
    return Latency(
        rps=float(rate.group(1)) if rate else 0.0,
        p50_ms=seconds_at(50),
        p99_ms=seconds_at(99),
        errors=errors,
    )
