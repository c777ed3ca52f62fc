"""Prometheus metrics: one injected registry, cheap in the hot loop.

Counters and histograms that events move are plain prometheus-client objects, with their
label children created up front so every series exists at 0. Values River already keeps (the
prequential metrics, counts, offsets, lag) are read at scrape time by :class:`LearnerCollector`
instead of being ``.set()`` on every event.

README's "Metrics" table is the public contract for these names; ``tests/test_metrics.py``
pins it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import kafka
import river
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

import service
from service.candidates_metrics import candidate_families
from service.events import RejectReason
from service.feedback.metrics import feedback_families
from service.ingest.status import ConsumerState
from service.learner import Learner
from service.readings import METRIC_SUFFIXES
from service.strategies.manager import ManagerStats

__all__ = ["LearnerCollector", "ServiceMetrics"]

# One test-then-train step costs ~20 µs (logistic regression) to ~2 ms (a forest of 10 trees).
LEARN_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
)  # fmt: skip
# /predict is held to a p99 of a few milliseconds: resolve around that.
PREDICT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5,
)  # fmt: skip
PREDICT_ENDPOINTS = ("predict", "predict_batch")
# Pickling a logistic regression takes ~0.1 ms, a forest of 10 trees ~0.3 s.
CHECKPOINT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


# A classifier's agreements, as exported (see service.prequential).
_AGREEMENT = {
    "kappa": "driftline_prequential_kappa",
    "kappa_temporal": "driftline_prequential_kappa_temporal",
    "rolling_kappa": "driftline_rolling_kappa",
    "rolling_kappa_temporal": "driftline_rolling_kappa_temporal",
}


class ServiceMetrics:
    """The counters and histograms the consumer and the API move."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_consumed = Counter(
            "driftline_events_consumed",
            "Messages read from the event topic.",
            registry=registry,
        )
        self.events_learned = Counter(
            "driftline_events_learned",
            "Labelled events learned test-then-train.",
            registry=registry,
        )
        self.events_unlabelled = Counter(
            "driftline_events_unlabelled",
            "Valid events without a label: counted, not learned.",
            registry=registry,
        )
        rejected = Counter(
            "driftline_events_rejected",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events_rejected = {reason: rejected.labels(reason.value) for reason in RejectReason}
        self.learn_duration = Histogram(
            "driftline_learn_duration_seconds",
            "Time of one test-then-train step (predict, score, learn).",
            buckets=LEARN_BUCKETS,
            registry=registry,
        )
        predict_duration = Histogram(
            "driftline_predict_duration_seconds",
            "Time to answer one valid prediction request, by endpoint.",
            ["endpoint"],
            buckets=PREDICT_BUCKETS,
            registry=registry,
        )
        self.predict_duration = {e: predict_duration.labels(e) for e in PREDICT_ENDPOINTS}
        predict_errors = Counter(
            "driftline_predict_errors",
            "Prediction requests refused with a 4xx, by endpoint.",
            ["endpoint"],
            registry=registry,
        )
        self.predict_errors = {e: predict_errors.labels(e) for e in PREDICT_ENDPOINTS}
        self.checkpoints = Counter(
            "driftline_checkpoints", "Checkpoints written.", registry=registry
        )
        self.checkpoint_failures = Counter(
            "driftline_checkpoint_failures",
            "Checkpoints that could not be written (learning went on; see the service log).",
            registry=registry,
        )
        self.checkpoint_duration = Histogram(
            "driftline_checkpoint_duration_seconds",
            "Time to take and write one checkpoint (pickle, sign, fsync, rename).",
            buckets=CHECKPOINT_BUCKETS,
            registry=registry,
        )
        self.checkpoint_pause = Histogram(
            "driftline_checkpoint_pause_seconds",
            "Time learning and serving waited while a checkpoint pickled the model.",
            buckets=CHECKPOINT_BUCKETS,
            registry=registry,
        )
        self.fetch_restarts = Counter(
            "driftline_fetch_restarts",
            "Fetch processes that died and were replaced.",
            registry=registry,
        )
        self.records_lost = Counter(
            "driftline_records_lost",
            "Records that fell out of the topic's retention before they were learned.",
            ["topic", "partition"],
            registry=registry,
        )


class LearnerCollector(Collector):
    """Reads the learner's and the consumer's state at scrape time."""

    def __init__(
        self,
        learner: Learner,
        consumer_state: ConsumerState,
        exported_features: int = 10,
        clock: Callable[[], float] = time.time,
        topics: tuple[str, str | None] = ("driftline.events", None),
    ) -> None:
        self._learner = learner
        self._consumer = consumer_state
        self._exported_features = exported_features
        self._clock = clock
        # The event topic and the feedback topic (or None): the learned offsets' topic label.
        self._topics = topics

    def collect(self) -> Iterator[Metric]:
        learner, consumer = self._learner, self._consumer
        values = learner.values()
        yield _gauge(
            "driftline_model_version", "Version of the model serving.", values.model_version
        )
        strategy = learner.strategy_stats()
        yield _gauge(
            "driftline_model_events_learned",
            "Labelled events the serving model has learned (its rebuild history included).",
            strategy["model_events_learned"],
        )
        info = InfoMetricFamily("driftline_model", "The serving model.")
        info.add_metric([], {"name": learner.spec.name, "task": learner.task})
        yield info
        for key, value in values.cumulative.items():
            yield _gauge(
                f"driftline_prequential_{METRIC_SUFFIXES[key]}",
                f"Prequential {key} over every event learned (River's progressive validation).",
                value,
            )
        for key, value in values.rolling.items():
            yield _gauge(
                f"driftline_rolling_{METRIC_SUFFIXES[key]}",
                f"Prequential {key} over the last driftline_rolling_window_events events.",
                value,
            )
        for key, value in values.agreement.items():
            yield _gauge(
                _AGREEMENT[key],
                f"Classifiers: {key.replace('_', ' ')} of the serving model's predictions.",
                value,
            )
        yield _gauge(
            "driftline_rolling_window_events",
            "Size of the rolling metric window, in events.",
            learner.rolling_window,
        )
        offsets = GaugeMetricFamily(
            "driftline_learned_offset",
            "Next offset to learn, per partition: every earlier message has been handled.",
            labels=["topic", "partition"],
        )
        topic, feedback_topic = self._topics
        for partition, position in sorted(values.positions.items()):
            offsets.add_metric([topic, str(partition)], position)
        if feedback_topic is not None:
            for partition, position in sorted(values.feedback_positions.items()):
                offsets.add_metric([feedback_topic, str(partition)], position)
        yield offsets
        lag = GaugeMetricFamily(
            "driftline_consumer_lag_messages",
            "Messages in the partition not yet handled (high watermark minus position).",
            labels=["topic", "partition"],
        )
        for (topic, partition), messages in sorted(consumer.lag.items()):
            lag.add_metric([topic, str(partition)], messages)
        yield lag
        yield _gauge(
            "driftline_consumer_assigned",
            "1 when the consumer holds its partitions and reads, else 0.",
            1.0 if consumer.assigned else 0.0,
        )
        yield _gauge(
            "driftline_consumer_connected",
            "1 while the consumer reaches the Kafka cluster, else 0.",
            1.0 if consumer.connected else 0.0,
        )
        if consumer.last_poll_wall_time is not None:
            yield _gauge(
                "driftline_consumer_last_poll_timestamp_seconds",
                "Wall-clock time of the consumer's last poll: a heartbeat of the ingest loop.",
                consumer.last_poll_wall_time,
            )
        if consumer.last_checkpoint_wall_time is not None:
            yield _gauge(
                "driftline_last_checkpoint_timestamp_seconds",
                "Wall-clock time the last checkpoint was written.",
                consumer.last_checkpoint_wall_time,
            )
        if consumer.last_checkpoint_bytes is not None:
            yield _gauge(
                "driftline_checkpoint_size_bytes",
                "Size of the last checkpoint's pickled state.",
                consumer.last_checkpoint_bytes,
            )
        if consumer.last_learned_wall_time is not None:
            yield _gauge(
                "driftline_last_learned_timestamp_seconds",
                "Wall-clock time the last labelled event was learned.",
                consumer.last_learned_wall_time,
            )
        yield from self._strategy(strategy)
        yield from feedback_families(self._learner.feedback_values())
        yield from candidate_families(self._learner.leaderboard())
        yield from self._drift()
        build = InfoMetricFamily("driftline_build", "Versions of Driftline and its engines.")
        build.add_metric(
            [],
            {
                "version": service.__version__,
                "river": river.__version__,
                "kafka_python": kafka.__version__,
            },
        )
        yield build

    def _strategy(self, stats: ManagerStats) -> Iterator[Metric]:
        name = stats["strategy"]
        info = InfoMetricFamily("driftline_strategy", "The retraining strategy and its history.")
        info.add_metric([], {"strategy": name, "history": stats["history"]})
        yield info
        retrains = CounterMetricFamily(
            "driftline_retrains",
            "Rebuilds by strategy, trigger and outcome (rolled back ones were promoted first).",
            labels=["strategy", "trigger", "outcome"],
        )
        for (trigger, outcome), count in sorted(stats["retrains"].items()):
            retrains.add_metric([name, trigger, outcome], count)
        yield retrains
        cpu = CounterMetricFamily(
            "driftline_strategy_cpu_seconds",
            "CPU seconds spent by the strategy, by kind of work.",
            labels=["strategy", "work"],
        )
        for work, seconds in sorted(stats["cpu_seconds"].items()):
            cpu.add_metric([name, work], seconds)
        yield cpu
        yield _gauge(
            "driftline_rebuild_running",
            "1 while a rebuild trains in the background.",
            1.0 if stats["rebuild_running"] else 0.0,
        )
        shadow = GaugeMetricFamily(
            "driftline_shadow_score",
            "Accuracy (MAE for regressors) of the challenger and of the champion on the "
            "challenger's shadow events so far.",
            labels=["role"],
        )
        probation = GaugeMetricFamily(
            "driftline_probation_score",
            "Accuracy (MAE) of a newly promoted model and of the one it replaced, on the "
            "probation events so far.",
            labels=["role"],
        )
        for family, pairs in (
            (
                shadow,
                (("challenger", "challenger_shadow_score"), ("champion", "champion_shadow_score")),
            ),
            (probation, (("promoted", "probation_score"), ("previous", "previous_champion_score"))),
        ):
            for role, key in pairs:
                value = stats[key]  # type: ignore[literal-required]
                if value == value:  # NaN: no challenger or probation now
                    family.add_metric([role], value)
            yield family
        if stats["memory_events"]:
            yield _gauge(
                "driftline_memory_set_score",
                "Accuracy (MAE for regressors) of the serving model on a reservoir sample of "
                "past events: falls when the model forgets.",
                stats["memory_score"],
            )

    def _drift(self) -> Iterator[Metric]:
        drift = self._learner.drift_values(self._exported_features)
        if drift is None:
            return
        alarms = CounterMetricFamily(
            "driftline_drift_alarms",
            "Drift alarms, by detector and kind (concept, data, prediction, label).",
            labels=["detector", "kind"],
        )
        for (detector, kind), count in sorted(drift.alarms.items()):
            alarms.add_metric([detector, kind], count)
        yield alarms
        warnings = CounterMetricFamily(
            "driftline_drift_warnings",
            "Drift warnings (detectors that have them), by detector.",
            labels=["detector"],
        )
        for detector, count in sorted(drift.warnings.items()):
            warnings.add_metric([detector], count)
        yield warnings
        active = GaugeMetricFamily(
            "driftline_drift_active", "1 while a drift of this kind is under way.", labels=["kind"]
        )
        for name, on in drift.active.items():
            active.add_metric([name], 1.0 if on else 0.0)
        yield active
        last = GaugeMetricFamily(
            "driftline_last_drift_alarm_timestamp_seconds",
            "Wall-clock time of the last alarm of each kind.",
            labels=["kind"],
        )
        for kind, when in sorted(drift.last_alarm_times.items()):
            last.add_metric([kind], when)
        yield last
        reading = drift.concept_reading
        if reading.width is not None:
            yield _gauge(
                "driftline_concept_detector_width_events",
                "Events in ADWIN's window: it shrinks when ADWIN cuts it at a change.",
                reading.width,
            )
        if reading.mean_error is not None:
            yield _gauge(
                "driftline_concept_detector_mean_error",
                "Mean prequential error the concept-drift detector currently sees.",
                reading.mean_error,
            )
        families = {
            "psi": GaugeMetricFamily(
                "driftline_feature_psi",
                "PSI of a feature's recent window against its reference (top features only).",
                labels=["feature"],
            ),
            "ks_statistic": GaugeMetricFamily(
                "driftline_feature_ks_statistic",
                "Two-sample K-S statistic of a numeric feature (top features only).",
                labels=["feature"],
            ),
            "ks_pvalue": GaugeMetricFamily(
                "driftline_feature_ks_pvalue",
                "K-S p-value of a numeric feature, before the Bonferroni correction.",
                labels=["feature"],
            ),
        }
        for feature in drift.features:
            families["psi"].add_metric([feature.feature], feature.psi)
            if feature.ks_statistic is not None:
                families["ks_statistic"].add_metric([feature.feature], feature.ks_statistic)
            if feature.ks_pvalue is not None:
                families["ks_pvalue"].add_metric([feature.feature], feature.ks_pvalue)
        yield from families.values()
        for name, psi in sorted(drift.distribution_psi.items()):
            yield _gauge(
                f"driftline_{name}_psi",
                f"PSI of the {name}s' recent window against their reference.",
                psi,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
