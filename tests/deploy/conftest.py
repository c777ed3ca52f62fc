"""The Prometheus fixtures, for the deployment tests that evaluate queries on a real server."""

from tests.fixtures.prometheus import prometheus_factory

__all__ = ["prometheus_factory"]
