"""Driftline: keep a River model fresh while it serves.

A Kafka consumer feeds events to a :class:`~service.learner.Learner` one at a time,
test-then-train; a FastAPI app serves ``/predict`` from the same live model; Prometheus
metrics say how well the model is doing right now.
"""

from service.errors import DriftlineError

__all__ = ["DriftlineError", "__version__"]

__version__ = "0.1.0"
