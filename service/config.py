"""Settings: every knob of the service, read once from the environment.

One frozen object is built at the entry point and passed down; library code never reads
``os.environ``. Each field maps to an environment variable ``DRIFTLINE_<FIELD>`` (upper
case), e.g. ``DRIFTLINE_BOOTSTRAP_SERVERS``. README's configuration table lists them all and
a test keeps it in step with this class.

Examples
--------
>>> settings = Settings(model="hoeffding", rolling_window=500)
>>> settings.topic, settings.rolling_window
('driftline.events', 500)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.drift.defaults import (
    DEFAULT_COOLDOWN,
    DEFAULT_DETECTOR,
    DEFAULT_EVERY,
    DEFAULT_KS_ALPHA,
    DEFAULT_PSI_THRESHOLD,
    DEFAULT_QUIET_PERIOD,
    DEFAULT_RULE,
    DEFAULT_TRACKED_FEATURES,
    DEFAULT_WINDOW,
)
from service.events import DEFAULT_MAX_MAGNITUDE, LARGEST_FLOAT
from service.feedback.defaults import DEFAULT_PENDING_MAX, DEFAULT_PENDING_TTL_SECONDS
from service.strategies.config import StrategyConfig

__all__ = ["Settings"]


class Settings(BaseSettings, StrategyConfig):
    """Configuration of one Driftline service process.

    The retraining strategy's fields (``DRIFTLINE_STRATEGY``, ``DRIFTLINE_REBUILD_EVERY``, ...)
    are :class:`~service.strategies.config.StrategyConfig`'s, inherited so they are declared
    once; :meth:`strategy_config` hands them to the model manager.
    """

    model_config = SettingsConfigDict(
        env_prefix="DRIFTLINE_",
        frozen=True,
        extra="forbid",
        # An empty variable means "not set" (the default); the word none means None.
        env_ignore_empty=True,
        env_parse_none_str="none",
    )

    # --- Kafka -------------------------------------------------------------------------
    bootstrap_servers: str = Field(
        "localhost:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    topic: str = Field("driftline.events", description="Topic the events are read from.")
    group_id: str = Field(
        "driftline",
        description="Consumer group offsets are committed under (for lag monitoring).",
    )
    dead_letter_topic: str = Field(
        "driftline.dead-letter",
        description="Topic that receives every rejected message, with the reason in headers.",
    )
    feedback_topic: str | None = Field(
        None,
        min_length=1,
        description=(
            'A second topic read beside the event topic, for answers ({"id", "label"}) '
            "only; merged with the events by record timestamp. Unset: answers go to the event "
            "topic."
        ),
    )
    create_topics: bool = Field(
        True,
        description="Create the event, feedback and dead-letter topics at start if missing.",
    )
    topic_partitions: int = Field(
        1, ge=1, description="Partitions of the event topic when the service creates it."
    )
    start_from: Literal["earliest", "latest", "committed"] = Field(
        "earliest",
        description=(
            "Where a fresh model starts reading: the beginning of the topic, its end, or the "
            "group's committed offsets (falling back to the beginning)."
        ),
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client of the service talks to the brokers."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism, with a SASL_* security protocol."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password. Never logged or exported."
    )
    ssl_cafile: Path | None = Field(
        None, description="CA bundle that signs the brokers' certificates."
    )
    ssl_certfile: Path | None = Field(None, description="Client certificate, for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="Client private key, for mutual TLS.")
    max_poll_records: int = Field(500, ge=1, description="Largest batch one poll returns.")
    poll_timeout_ms: int = Field(200, ge=1, description="How long one poll waits for records.")
    commit_interval_s: float = Field(
        5.0, gt=0, description="How often learned offsets are committed to the group."
    )

    # --- Model -------------------------------------------------------------------------
    model: str = Field(
        "logreg",
        description=(
            "A registry name (logreg, hoeffding, hat, arf, gnb, linreg, hoeffding_reg, arf_reg) "
            "or an import path module:factory returning a River classifier or regressor."
        ),
    )
    seed: int = Field(42, description="Seed for models that draw random numbers.")
    classes: list[bool | int | str] | None = Field(
        None,
        description=(
            "Class labels a classifier may learn, as a JSON list; other labels go to the "
            "dead-letter topic (unknown_label). Unset: any label, but a binary model "
            "(logreg) learns only true/false and 0/1."
        ),
    )
    rolling_window: int = Field(
        1000, ge=1, description="Events in the rolling-window prequential metrics."
    )

    # --- Drift -------------------------------------------------------------------------
    drift_detection: bool = Field(
        True, description="Watch concept, data, prediction and label drift."
    )
    drift_detector: str = Field(
        DEFAULT_DETECTOR,
        description=(
            "Concept-drift detector on the prequential error: adwin, page_hinkley, kswin, or "
            "(classifiers) ddm, eddm, hddm_a, hddm_w, fhddm."
        ),
    )
    drift_detector_params: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description='The detector\'s parameters as JSON, e.g. {"delta": 0.001}.',
    )
    drift_cooldown: int = Field(
        DEFAULT_COOLDOWN, ge=0, description="Events after an alarm in which no other is raised."
    )
    drift_quiet_period: int = Field(
        DEFAULT_QUIET_PERIOD,
        ge=0,
        description="Events without a detection after which a concept drift is no longer active.",
    )
    data_drift_window: int = Field(
        DEFAULT_WINDOW, ge=10, description="Events in the reference and in the recent window."
    )
    data_drift_every: int = Field(
        DEFAULT_EVERY, ge=1, description="Events between two data-drift evaluations."
    )
    data_drift_rule: Literal["psi_and_ks", "psi", "ks", "psi_or_ks"] = Field(
        DEFAULT_RULE, description="When a feature counts as drifting (see Drift in README)."
    )
    psi_threshold: float = Field(
        DEFAULT_PSI_THRESHOLD, gt=0, description="PSI above which a distribution has shifted."
    )
    ks_alpha: float = Field(
        DEFAULT_KS_ALPHA,
        gt=0,
        lt=1,
        description="Family-wise significance of one evaluation's K-S tests (Bonferroni).",
    )
    drift_features: list[str] | None = Field(
        None,
        description="Features to watch for data drift, as a JSON list; unset: the first ones seen.",
    )
    drift_max_features: int = Field(
        DEFAULT_TRACKED_FEATURES, ge=1, description="Most features watched when none are listed."
    )
    drift_exported_features: int = Field(
        10,
        ge=0,
        description="Features with the highest PSI exported per metric (bounds label cardinality).",
    )

    # --- State ---------------------------------------------------------------------------
    state_dir: Path | None = Field(
        None,
        description=(
            "Folder for checkpoints of the model and the offsets it learned through; unset "
            "disables checkpoints (a restart then starts a fresh model)."
        ),
    )
    checkpoint_key: SecretStr | None = Field(
        None,
        description=(
            "HMAC-SHA256 key that signs checkpoints (at least 16 characters); required with "
            "DRIFTLINE_STATE_DIR. Never logged or exported."
        ),
    )
    checkpoint_every_events: int = Field(
        10_000, ge=1, description="Write a checkpoint after this many messages handled."
    )
    checkpoint_every_s: float = Field(
        30.0, gt=0, description="Write a checkpoint at least this often while messages arrive."
    )
    checkpoints_kept: int = Field(
        3, ge=1, description="How many of the newest checkpoints to keep."
    )
    state_mismatch: Literal["refuse", "start_fresh"] = Field(
        "refuse",
        description=(
            "When the state folder belongs to another topic, model, task or Kafka cluster (or a "
            "topic with fewer partitions): refuse to start, naming both sides, or move its "
            "checkpoints aside into a mismatched-* subfolder and start a fresh model."
        ),
    )
    checkpoint_classes: list[str] = Field(
        [],
        description=(
            "Extra module:qualname names a checkpoint may hold, as a JSON list: the classes of a "
            "module:factory model that are not River's registry models."
        ),
    )
    offset_lost_policy: Literal["resume", "stop"] = Field(
        "resume",
        description=(
            "When a checkpoint's offset has fallen out of the topic's retention: resume from the "
            "oldest record still there (the lost count is logged and exported), or stop learning."
        ),
    )

    # --- candidates --------------------------------------------------------------------
    candidates: list[str] = Field(
        [],
        description=(
            "Models that learn every labelled outcome beside the serving one, test-then-train, "
            "as a JSON list of registry names (or module:factory paths) of the same task; "
            "GET /leaderboard ranks them."
        ),
    )
    follow_leader: bool = Field(
        False,
        description=(
            "Every 250 events, put a copy of the leading candidate in shadow when its rolling "
            "metric beats the serving model's by DRIFTLINE_PROMOTION_MARGIN; the "
            "champion/challenger gate decides whether it serves (trigger leader)."
        ),
    )
    candidates_budget_us: float = Field(
        20_000.0,
        gt=0,
        description=(
            "CPU the candidates may take together per event, in microseconds (averaged over "
            "1,000 events); past it the costliest one is paused and marked over budget."
        ),
    )

    # --- questions and answers ---------------------------------------------------------
    pending_max: int = Field(
        DEFAULT_PENDING_MAX,
        ge=1,
        description=(
            "Most questions kept waiting for their labels; a new one beyond it pushes out the "
            "oldest (counted as expired, cause capacity)."
        ),
    )
    pending_ttl_s: float = Field(
        DEFAULT_PENDING_TTL_SECONDS,
        gt=0,
        description=(
            "A question older than this (by the records' timestamps) expires; its answer is "
            "dead-lettered as expired_id."
        ),
    )
    served_write_timeout_s: float = Field(
        5.0,
        gt=0,
        description=(
            "How long /predict waits for the broker to take a prediction served with an id; "
            "past it the request gets a 503."
        ),
    )

    # --- HTTP --------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP server binds.")
    max_body_bytes: int = Field(
        1_048_576, ge=1, description="Largest HTTP request body accepted; larger ones get a 413."
    )
    max_header_bytes: int = Field(
        65_536,
        ge=1024,
        description=(
            "Largest HTTP request head (target and header fields); a larger one gets a 431 and "
            "its connection is closed."
        ),
    )
    request_read_timeout_s: float = Field(
        30.0,
        gt=0,
        description=(
            "Longest time to read one request's head and body from its first byte; after it "
            "the client gets a 408 and its connection is closed."
        ),
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="An HTTP connection idle this long, even a new one, is closed."
    )
    max_batch_instances: int = Field(
        1000, ge=1, description="Most instances one /predict/batch request may carry."
    )
    max_features: int = Field(
        10_000, ge=1, description="Most features one instance may carry (HTTP and events)."
    )
    max_magnitude: float = Field(
        DEFAULT_MAX_MAGNITUDE,
        gt=0,
        le=LARGEST_FLOAT,
        description=(
            "Largest absolute value of a number in an event (features, numeric label) or a "
            "request; beyond it an event is dead-lettered as out_of_range and a request is a 422."
        ),
    )
    switch_interval_ms: float = Field(
        0.5,
        gt=0,
        le=100,
        description=(
            "Longest a request waits for the learning thread to yield the interpreter "
            "(Python's switch interval, 5 ms by default); smaller keeps /predict's tail short."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the service and uvicorn."
    )
    admin_token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token of the /admin endpoints (at least 16 characters); unset disables them. "
            "Never logged or exported."
        ),
    )

    def strategy_config(self) -> StrategyConfig:
        """The retraining strategy's part of these settings."""
        return StrategyConfig(**{name: getattr(self, name) for name in StrategyConfig.model_fields})

    @field_validator("checkpoint_classes")
    @classmethod
    def _names_are_module_and_qualname(cls, names: list[str]) -> list[str]:
        for name in names:
            module, _, qualname = name.partition(":")
            if not module or not qualname:
                raise ValueError(f"{name!r} is not module:qualname (e.g. mypackage.models:MyModel)")
        return names

    @model_validator(mode="after")
    def _topics_are_distinct(self) -> Self:
        named = [
            ("DRIFTLINE_TOPIC", self.topic),
            ("DRIFTLINE_DEAD_LETTER_TOPIC", self.dead_letter_topic),
        ]
        if self.feedback_topic is not None:
            named.append(("DRIFTLINE_FEEDBACK_TOPIC", self.feedback_topic))
        for i, (name, topic) in enumerate(named):
            for other, other_topic in named[:i]:
                if topic == other_topic:
                    raise ValueError(f"{name} and {other} are both {topic!r}: name two topics")
        return self

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Self:
        if self.state_dir is not None and self.checkpoint_key is None:
            raise ValueError(
                "DRIFTLINE_STATE_DIR needs DRIFTLINE_CHECKPOINT_KEY to sign checkpoints"
            )
        for name, secret in (
            ("CHECKPOINT_KEY", self.checkpoint_key),
            ("ADMIN_TOKEN", self.admin_token),
        ):
            if secret is None:
                continue
            value = secret.get_secret_value()
            if len(value) < _MIN_SECRET_LENGTH:
                raise ValueError(
                    f"DRIFTLINE_{name} must be at least {_MIN_SECRET_LENGTH} characters"
                )
            if value.lower() in _PLACEHOLDERS:
                raise ValueError(f"DRIFTLINE_{name} is a placeholder: set a secret of your own")
        if self.security_protocol.startswith("SASL") and (
            self.sasl_mechanism is None or self.sasl_username is None or self.sasl_password is None
        ):
            raise ValueError(
                f"DRIFTLINE_SECURITY_PROTOCOL={self.security_protocol} needs "
                "DRIFTLINE_SASL_MECHANISM, DRIFTLINE_SASL_USERNAME and DRIFTLINE_SASL_PASSWORD"
            )
        return self


# A secret shorter than this is guessable (HMAC-SHA256 itself accepts any key length).
_MIN_SECRET_LENGTH = 16
_PLACEHOLDERS = {
    "changeme-changeme",
    "change-me-change-me",
    "please-change-this-key",
    "please-change-this-token",
    "0123456789abcdef",
    "x" * 16,
}
