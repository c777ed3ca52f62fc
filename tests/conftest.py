"""Suite-wide fixtures live in plugin modules under ``tests/fixtures/``, one per subject."""

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.service",
    "tests.fixtures.prometheus",
]
