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

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Configuration of one Driftline service process."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTLINE_",
        frozen=True,
        extra="forbid",
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
    create_topics: bool = Field(
        True, description="Create the event and dead-letter topics at start if missing."
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
    rolling_window: int = Field(
        1000, ge=1, description="Events in the rolling-window prequential metrics."
    )

    # --- HTTP --------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP server binds.")
    max_batch_instances: int = Field(
        1000, ge=1, description="Most instances one /predict/batch request may carry."
    )
    max_features: int = Field(
        10_000, ge=1, description="Most features one instance may carry (HTTP and events)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the service and uvicorn."
    )
