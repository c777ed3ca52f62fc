"""B14: what candidates cost the learning rate.

The service's real ingest worker learns the same pre-filled topic with and without a typical
candidate list (:data:`CANDIDATES`: a passive-aggressive classifier, a Hoeffding tree and the
no-change baseline), interleaved; B14 is the median of the per-repetition ratio of events
learned per second. Each candidate predicts and learns every event on the learner thread, so
the ratio is about the serving model's cost over the sum of everyone's.
"""

from __future__ import annotations

from functools import partial

from bench.ingest import service_ingest
from bench.protocol import BenchOptions, BenchResult, at_least, interleave, spread
from bench.stack import broker, fill_topic, make_events, new_topic

__all__ = ["CANDIDATES", "ingest_with_candidates"]

CANDIDATES = ("pa", "hoeffding", "nochange")


def ingest_with_candidates(options: BenchOptions) -> list[BenchResult]:
    """B14: events/s learned with :data:`CANDIDATES` ÷ the serving model alone."""
    count = 3_000 if options.smoke else 50_000
    repetitions = 1 if options.smoke else options.repetitions
    with broker(options) as servers:
        topic = new_topic(servers)
        fill_topic(servers, topic, make_events(count, seed=7))
        runs = interleave(
            {
                "alone": partial(service_ingest, options.model, servers, topic, count),
                "candidates": partial(
                    service_ingest, options.model, servers, topic, count, candidates=CANDIDATES
                ),
            },
            repetitions,
        )
    pairs = list(zip(runs["alone"], runs["candidates"], strict=True))
    return [
        BenchResult(
            "B14",
            f"learning rate with candidates {', '.join(CANDIDATES)} ÷ {options.model} alone",
            spread([with_ / alone for alone, with_ in pairs]),
            "×",
            must=at_least(0.25),
            stretch=at_least(0.5),
            details={
                "events/s alone": str(spread(runs["alone"])),
                "events/s with candidates": str(spread(runs["candidates"])),
            },
        )
    ]
