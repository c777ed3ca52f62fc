"""Numbers: no event the gate lets through can make a model's answer or a metric non-finite.

The gate refuses any number beyond ``DRIFTLINE_MAX_MAGNITUDE``; these tests throw every
registry model sequences of events within it (its extremes, zeros, subnormals, values that
differ by 1e-160, huge integers) and ask that learning never raises and that every metric and
every prediction stays a finite number.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.config import Settings
from service.drift.watch import DriftConfig, DriftWatch
from service.events import DEFAULT_MAX_MAGNITUDE, Event, RejectReason, decode_event
from service.learner import EventError, Learner
from service.models import MODEL_NAMES, build_model

BOUND = DEFAULT_MAX_MAGNITUDE

numbers = st.one_of(
    st.floats(-BOUND, BOUND, allow_nan=False),
    st.integers(-int(BOUND), int(BOUND)),
    st.sampled_from([BOUND, -BOUND, 5e-324, -5e-324, 0.0, 1e-160, 1.0, 2.0**-1074]),
)
texts = st.sampled_from(["red", "blue", ""])


def _features() -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(numbers, texts, st.booleans())
    return st.dictionaries(st.sampled_from(["a", "b", "c"]), values, min_size=1)


def _finite(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, float):
        return math.isfinite(value)
    return True


@pytest.mark.parametrize("name", MODEL_NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_event_within_the_bound_makes_an_answer_or_a_metric_non_finite(
    name: str, data: st.DataObject
) -> None:
    spec = build_model(name)
    features = _features()
    label = numbers if spec.task == "regression" else st.booleans()
    events = data.draw(st.lists(st.tuples(features, label), min_size=1, max_size=30))
    drift = DriftWatch(DriftConfig(window=5, every=5), spec.task)
    learner = Learner.for_model(name, rolling_window=10, drift=drift)
    for offset, (x, y) in enumerate(events):
        try:
            learner.learn(Event(x, y), partition=0, offset=offset)
        except EventError:  # a string where the model learned a number: refused, unlearned
            continue
    values = learner.values()
    assert _finite(values.cumulative) and _finite(values.rolling), values
    for x in data.draw(st.lists(features, min_size=1, max_size=3)):
        try:
            prediction = learner.predict(x)
        except EventError:  # a string where the model learned a number: a 422 in the API
            continue
        assert _finite(prediction.prediction) and _finite(prediction.probabilities), (x, prediction)


@pytest.mark.parametrize("value", ["1e200", "-1.7e308", "1e16", str(10**300)])
def test_a_number_beyond_the_bound_is_refused_as_out_of_range(value: str) -> None:
    for raw in (
        f'{{"features": {{"x": {value}}}}}',
        f'{{"features": {{"x": 1}}, "label": {value}}}',
    ):
        rejection = decode_event(raw.encode())
        assert rejection.reason is RejectReason.OUT_OF_RANGE, raw  # type: ignore[union-attr]


def test_the_bound_is_a_setting() -> None:
    assert isinstance(decode_event(b'{"features": {"x": 1e16}}', max_magnitude=1e17), Event)
    rejection = decode_event(b'{"features": {"x": 11}}', max_magnitude=10)
    assert rejection.reason is RejectReason.OUT_OF_RANGE  # type: ignore[union-attr]


def test_a_request_beyond_the_bound_is_a_422_naming_the_feature() -> None:
    with TestClient(create_app(Settings(max_magnitude=1e6), consume=False)) as client:
        response = client.post("/predict", json={"features": {"x": 1.0, "big": 2e6}})
        assert response.status_code == 422
        assert "'big'" in response.json()["detail"]
        assert client.post("/predict", json={"features": {"x": 1e6}}).status_code == 200


def test_a_regressors_prediction_is_clipped_to_the_bound() -> None:
    learner = Learner.for_model("linreg", max_magnitude=10.0)
    for offset in range(50):
        learner.learn(Event({"x": float(offset % 5)}, 1e9), partition=0, offset=offset)
    # Every label it may meet is within 10: an answer beyond it is never closer to one.
    assert learner.predict({"x": 4.0}).prediction == 10.0
