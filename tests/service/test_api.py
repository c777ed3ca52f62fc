"""The HTTP API answers every request with a model's answer or a 4xx that says why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.api.schemas import PredictionPublic, PredictRequest
from service.app import create_app
from service.config import Settings
from service.events import Event
from service.learner import Learner


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
    learner: Learner = client.app_state["runtime"].learner
    for offset in range(40):  # taught that x > 0 is true: each x below gets its own answer
        x = 1.0 if offset % 2 else -1.0
        learner.learn(Event({"x": x}, label=x > 0), 0, offset)
    instances = [{"features": {"x": x}} for x in (2.0, -2.0, 0.5)]
    alone = []
    for instance in instances:
        answer = client.post("/predict", json=instance).json()
        alone.append({"prediction": answer["prediction"], "probabilities": answer["probabilities"]})
    assert len({answer["probabilities"]["true"] for answer in alone}) == 3  # order matters
    assert [answer["prediction"] for answer in alone] == [True, False, True]

    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 200
    assert response.json()["predictions"] == alone


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
    not_finite = client.post(
        "/predict",
        content=b'{"features": {"x": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert not_finite.status_code == 422
    assert {
        "loc": ["body", "features", "x", "float"],
        "msg": "Input should be a finite number",
        "type": "finite_number",
    } in not_finite.json()["detail"]
    too_wide = client.post("/predict", json={"features": {f"f{i}": 1.0 for i in range(6)}})
    assert too_wide.status_code == 422
    assert too_wide.json() == {"detail": "6 features, more than the limit of 5"}
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


def test_predict_hands_the_model_each_feature_with_its_json_type(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = client.app_state["runtime"].learner
    seen: list[dict[str, object]] = []
    answer = learner.predict_many

    def recording(instances: list[dict[str, object]]) -> object:
        seen.extend(instances)
        return answer(instances)

    monkeypatch.setattr(learner, "predict_many", recording)
    body = b'{"features": {"b": true, "i": 1, "f": 1.0, "s": "1"}}'
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    [features] = seen
    assert {k: type(v) for k, v in features.items()} == {"b": bool, "i": int, "f": float, "s": str}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/vnd.driftline+json", 200),
        ("text/plain", 422),
        (None, 422),
    ],
)
def test_predict_reads_json_bodies_by_content_type(
    client: TestClient, content_type: str | None, status: int
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/predict", content=b'{"features": {"x": 1.0}}', headers=headers)
    assert response.status_code == status


def test_predict_answers_the_documented_model_with_label_keys(client: TestClient) -> None:
    response = client.post("/predict", json={"features": {"x": 1.0}})
    assert response.headers["content-type"] == "application/json"
    answer = PredictionPublic.model_validate_json(response.content)
    assert answer.probabilities is not None
    assert set(answer.probabilities) == {"true", "false"}
    metrics = client.get("/metrics").text
    assert 'driftline_predict_duration_seconds_count{endpoint="predict"} 1.0' in metrics


def test_a_refused_predict_body_names_where_and_what_without_echoing_it(
    client: TestClient,
) -> None:
    body = b'{"features": {"x": NaN}}'
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d) for d in detail} == {("loc", "msg", "type")}
    assert ["body", "features", "x", "float"] in [d["loc"] for d in detail]


def test_the_openapi_schema_documents_the_predict_body_answer_and_422(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/predict"]["post"]
    refs = {
        "body": operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "200": operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "422": operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
    }
    assert refs == {
        "body": "#/components/schemas/PredictRequest",
        "200": "#/components/schemas/PredictionPublic",
        "422": "#/components/schemas/HTTPValidationError",
    }
    assert operation["requestBody"]["required"] is True
    components = schema["components"]["schemas"]
    documented, declared = components["PredictRequest"], PredictRequest.model_json_schema()
    assert set(documented["properties"]) == set(declared["properties"]) == {"features", "id"}
    assert documented["required"] == declared["required"] == ["features"]
    assert {"PredictionPublic", "HTTPValidationError"} <= set(components)


def test_a_prediction_served_with_an_id_needs_a_process_that_can_record_it(
    client: TestClient,
) -> None:
    # This app consumes nothing, so it cannot write the question: nothing is served.
    response = client.post("/predict", json={"features": {"x": 1.0}, "id": "order-1"})
    assert response.status_code == 503
    assert "cannot record a prediction served with an id" in response.json()["detail"]
    assert client.post("/predict", json={"features": {"x": 1.0}}).status_code == 200


@pytest.mark.parametrize(
    "instances",
    [
        [{"features": {"x": 1.0}, "id": "a"}, {"features": {"x": 2.0}, "id": "a"}],
        [{"features": {"x": 1.0}, "id": 7}],
        [{"features": {"x": 1.0}, "id": ""}],
        [{"features": {"x": 1.0}, "id": "x" * 257}],
    ],
    ids=["same-id-twice", "not-a-string", "empty", "too-long"],
)
def test_a_batch_with_unusable_ids_is_refused_before_anything_is_served(
    client: TestClient, instances: list
) -> None:
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 422
