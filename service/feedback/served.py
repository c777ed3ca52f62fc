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

import asyncio
import threading
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError
from starlette.concurrency import run_in_threadpool

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
    """The producer of served questions; connected on first use, then waited on without a
    thread per request (the broker's acknowledgements resolve asyncio futures)."""

    def __init__(self, client_config: dict[str, Any], topic: str, timeout: float) -> None:
        self._config = client_config
        self.topic = topic
        self.timeout = timeout
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    async def record(
        self, ids: list[str | None], features: list[dict[str, Any]], answers: Answers
    ) -> None:
        """Write every instance that has an id; return once the broker has all of them.

        Raises :class:`ServedWriteError` when it cannot within the timeout (nothing is then
        promised: a question the broker took before the failure is still learned, and its
        answer will join it).
        """
        producer = self._producer
        if producer is None:  # connecting and the topic's metadata block: not on the loop
            producer = await run_in_threadpool(self._connected)
        assert producer is not None
        loop = asyncio.get_running_loop()
        acknowledged = []
        try:
            for question_id, x, answer in zip(ids, features, answers.predictions, strict=True):
                if question_id is None:
                    continue
                value = served_question(question_id, x, answer, answers.model_version)
                sent = producer.send(self.topic, value, key=question_id.encode())
                done: asyncio.Future[None] = loop.create_future()
                # kafka-python calls these from its sender thread, the outcome last.
                sent.add_callback(_settle_soon, loop, done, None)
                sent.add_errback(_fail_soon, loop, done)
                acknowledged.append(done)
            await asyncio.wait_for(asyncio.gather(*acknowledged), self.timeout)
        except (KafkaError, TimeoutError) as error:
            raise ServedWriteError(_FAILED.format(error=error or "timed out")) from error

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout)
                self._producer = None

    def _connected(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    producer = KafkaProducer(
                        **self._config,
                        acks="all",
                        enable_idempotence=True,
                        max_block_ms=int(self.timeout * 1000),
                    )
                    producer.partitions_for(self.topic)  # the metadata every send needs
                except KafkaError as error:
                    raise ServedWriteError(_FAILED.format(error=error)) from error
                self._producer = producer
            return self._producer


def _settle_soon(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[None], error: None, _: object
) -> None:
    loop.call_soon_threadsafe(_settle, done, error)


def _fail_soon(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[None], error: BaseException
) -> None:
    loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request timed out meanwhile
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
