"""Any request body ends in an answer or a 4xx, never a server error."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.config import Settings

TOKEN = "bodies-admin-token-0123456789"
# Every route that reads a request body; the admin ones take none but must not choke on one.
BODY_ROUTES = [
    "/predict",
    "/predict/batch",
    "/admin/checkpoint",
    "/admin/rebuild",
    "/admin/rollback/1",
]
DEPTH = 100_000  # far past both the standard parser's recursion limit and orjson's 1024


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(Settings(admin_token=TOKEN, max_features=50), consume=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def post(client: TestClient, path: str, body: bytes, content_type: str | None) -> int:
    headers = {"authorization": f"Bearer {TOKEN}"}
    if content_type is not None:
        headers["content-type"] = content_type
    return client.post(path, content=body, headers=headers).status_code


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
@pytest.mark.parametrize(
    "body",
    [b"[" * DEPTH + b"]" * DEPTH, b'{"a":' * (DEPTH // 10) + b"1" + b"}" * (DEPTH // 10)],
    ids=["lists", "objects"],
)
def test_a_body_nested_too_deep_for_the_parser_gets_400_on_both_predict_routes(
    client: TestClient, path: str, body: bytes
) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


def nested(leaf: st.SearchStrategy[object], depth: int) -> st.SearchStrategy[object]:
    return st.builds(lambda value: json.loads("[" * depth + json.dumps(value) + "]" * depth), leaf)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def as_json(value: object) -> bytes:
    # The standard writer: NaN, Infinity and lone surrogates as they come.
    return json.dumps(value).encode()


bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(as_json),
    st.builds(
        lambda features: as_json({"features": features}),
        st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5),
    ),
    st.builds(
        lambda features: as_json({"instances": [{"features": features}]}),
        st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5),
    ),
    st.integers(min_value=900, max_value=3000).map(
        lambda depth: b'{"features": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    ),
    st.integers(min_value=4000, max_value=20_000).map(
        lambda digits: b'{"features": {"x": ' + b"9" * digits + b"}}"
    ),
    st.text().map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(BODY_ROUTES),
    body=bodies,
    content_type=st.sampled_from(
        [None, "application/json", "application/json; charset=utf-16", "text/plain"]
    ),
)
def test_no_body_gets_a_server_error(
    client: TestClient, path: str, body: bytes, content_type: str | None
) -> None:
    status = post(client, path, body, content_type)
    # 409 is the admin checkpoint's answer when nothing consumes: still not a 5xx.
    assert status < 500, (path, body[:200], content_type)
