"""Admin endpoints are disabled without a token and refuse a missing or wrong one."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings

TOKEN = "an-admin-token-of-some-length"


def client_with(**settings: object) -> TestClient:
    return TestClient(create_app(Settings(**settings), consume=False))


def test_admin_endpoints_are_disabled_without_a_configured_token() -> None:
    with client_with() as client:
        response = client.post("/admin/checkpoint", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_admin_endpoints_refuse_a_missing_or_wrong_token(headers: dict[str, str]) -> None:
    with client_with(admin_token=TOKEN) as client:
        response = client.post("/admin/checkpoint", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_right_token_reaches_the_endpoint() -> None:
    with client_with(admin_token=TOKEN) as client:
        response = client.post("/admin/checkpoint", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 409  # this app does not consume: nothing to checkpoint
    assert "does not consume" in response.json()["detail"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("admin_token", "short", "at least 16"),
        ("admin_token", "changeme-changeme", "placeholder"),
        ("checkpoint_key", "0123456789abcdef", "placeholder"),
    ],
)
def test_weak_secrets_are_refused_at_start(setting: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**{setting: value})


def test_sasl_needs_its_credentials() -> None:
    with pytest.raises(ValueError, match="DRIFTLINE_SASL_MECHANISM"):
        Settings(security_protocol="SASL_SSL")


def test_secrets_appear_neither_in_metrics_nor_logs_nor_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "sasl-password-that-must-not-leak"
    key = "checkpoint-key-that-must-not-leak"
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        admin_token=TOKEN,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="driftline",
        sasl_password=password,
        checkpoint_key=key,
    )
    with TestClient(create_app(settings, consume=False)) as client:
        exposed = client.get("/metrics").text + client.get("/openapi.json").text
        exposed += client.post("/admin/checkpoint", headers={"Authorization": "Bearer x"}).text
    exposed += caplog.text + repr(settings) + str(settings)
    for secret in (password, key, TOKEN):
        assert secret not in exposed


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer  {TOKEN}", f"Bearer \t{TOKEN}", f"Bearer {TOKEN} ", f"Bearer {TOKEN}\t"],
    ids=["two-spaces", "tab-before", "space-after", "tab-after"],
)
def test_the_token_with_whitespace_around_it_is_refused(authorization: str) -> None:
    with client_with(admin_token=TOKEN) as client:
        response = client.post("/admin/checkpoint", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong bearer token"
