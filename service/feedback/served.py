"""Served predictions, written to the event topic as questions before ``/predict`` answers.

A prediction served with an ``id`` must be scored when its label comes, even if the service
is killed in between. So ``/predict`` writes it to the event topic as a question carrying what
was served (``{"id", "features", "served": {...}}``), waits until the broker has it (all
in-sync replicas, idempotent), and only then answers. The learner reads it back like any
question and keeps the *served* answer, so the label is scored against what the caller got;
the topic is also the audit log of every served prediction. The record is keyed by its id, so
an answer keyed the same way lands on the same partition after it.

A write that fails (the broker unreachable for ``timeout`` seconds) fails the request with a
503: a served prediction that could not be recorded is not served.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from service.errors import DriftlineError
from service.readings import Answers

__all__ = ["ServedQuestions", "ServedWriteError", "served_question"]

_FAILED = "the served prediction could not be recorded: {error}"


class ServedWriteError(DriftlineError):
    """A served prediction could not be written to the event topic."""


def served_question(
    question_id: str, features: dict[str, Any], answer: Any, model_version: int
) -> bytes:
    """The event-topic record of one served prediction (``answer``: a :class:`Prediction`)."""
    probabilities = answer.probabilities
    served = {
        "model_version": model_version,
        "prediction": answer.prediction,
        "probabilities": None
        if probabilities is None
        else [[k, v] for k, v in probabilities.items()],
    }
    document = {"id": question_id, "features": features, "served": served}
    return orjson.dumps(document, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)


def _plain(value: object) -> object:
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{value.__class__.__name__} is not JSON serializable")


class ServedQuestions:
    """The producer of served questions; thread-safe, connected on first use."""

    def __init__(self, client_config: dict[str, Any], topic: str, timeout: float) -> None:
        self._config = client_config
        self.topic = topic
        self.timeout = timeout
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def record(
        self, ids: list[str | None], features: list[dict[str, Any]], answers: Answers
    ) -> None:
        """Write every instance that has an id; return once the broker has all of them.

        Raises :class:`ServedWriteError` when it cannot (nothing is then promised: a question
        the broker took before the failure is still learned, and its answer will join it).
        """
        producer = self._connected()
        try:
            futures = [
                producer.send(
                    self.topic,
                    served_question(question_id, x, answer, answers.model_version),
                    key=question_id.encode(),
                )
                for question_id, x, answer in zip(ids, features, answers.predictions, strict=True)
                if question_id is not None
            ]
            producer.flush(self.timeout)
            for future in futures:
                future.get(timeout=0)
        except KafkaError as error:
            raise ServedWriteError(
                f"the served prediction could not be recorded: {error}"
            ) from error

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout)
                self._producer = None

    def _connected(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(
                        **self._config,
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=0,
                        max_block_ms=int(self.timeout * 1000),
                    )
                except KafkaError as error:
                    raise ServedWriteError(_FAILED.format(error=error)) from error
            return self._producer
