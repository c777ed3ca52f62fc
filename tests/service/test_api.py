"""The HTTP API answers every request with a model's answer or a 4xx that says why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(max_features=5, max_batch_instances=3)
    with TestClient(create_app(settings, consume=False)) as client:
        yield client


def test_predict_answers_with_prediction_probabilities_version_and_count(
    client: TestClient,
) -> None:
    response = client.post("/predict", json={"features": {"x": 1.0, "colour": "red", "ok": True}})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"prediction", "probabilities", "model_version", "events_learned"}
    assert body["model_version"] == 1
    assert body["events_learned"] == 0


def test_batch_predict_answers_in_request_order(client: TestClient) -> None:
    instances = [{"features": {"x": float(i)}} for i in range(3)]
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"features": {"x": NaN}}', "finite"),
        (b'{"features": {"x": Infinity}}', "finite"),
        (b'{"features": {}}', "at least 1"),
        (b'{"features": {"x": null}}', "valid"),
        (b'{"features": {"x": [1, 2]}}', "valid"),
        (b'{"features": [1, 2]}', "dictionary"),
        (b'{"x": 1}', "Field required"),
        (b'{"features": {"x": 1}, "extra": 1}', "Extra inputs"),
        (b"[]", "dictionary"),
        (b"not json", "JSON"),
        (b"", "Field required"),
    ],
)
def test_bad_predict_bodies_get_422_with_a_message(
    client: TestClient, body: bytes, message: str
) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert message in response.text


def test_the_feature_limit_is_enforced_with_a_clear_message(client: TestClient) -> None:
    features = {f"f{i}": 1.0 for i in range(6)}
    response = client.post("/predict", json={"features": features})
    assert response.status_code == 422
    assert "more than the limit of 5" in response.json()["detail"]


def test_the_batch_limit_is_enforced_with_a_clear_message(client: TestClient) -> None:
    instances = [{"features": {"x": 1.0}}] * 4
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 422
    assert "more than the limit of 3" in response.json()["detail"]


def test_refused_requests_are_counted(client: TestClient) -> None:
    client.post("/predict", content=b'{"features": {"x": NaN}}')
    client.post("/predict", json={"features": {f"f{i}": 1.0 for i in range(6)}})
    metrics = client.get("/metrics").text
    assert 'driftline_predict_errors_total{endpoint="predict"} 2.0' in metrics


def test_model_describes_the_live_model(client: TestClient) -> None:
    body = client.get("/model").json()
    assert body["name"] == "logreg"
    assert body["task"] == "classification"
    assert body["events_learned"] == 0
    assert set(body["metrics"]["cumulative"]) == {"accuracy", "log_loss"}


def test_health_is_up_and_ready_waits_for_the_consumer(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False


def test_the_openapi_schema_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/predict/batch", "/model", "/health", "/ready", "/metrics"} <= set(paths)


def test_a_body_over_the_size_limit_gets_413() -> None:
    settings = Settings(max_body_bytes=1_000)
    with TestClient(create_app(settings, consume=False)) as client:
        big = {"features": {f"f{i}": 1.0 for i in range(200)}}
        response = client.post("/predict", json=big)
    assert response.status_code == 413
