"""HTTP fuzzing: every request schemathesis derives from the OpenAPI schema gets an answer
that is not a 5xx, and matches the schema it documents."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from service.app import create_app
from service.config import Settings

TOKEN = "fuzzing-admin-token-0123456789"
CASES_PER_OPERATION = 150

app = create_app(
    Settings(admin_token=TOKEN, max_features=50, max_batch_instances=20), consume=False
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
tried: dict[str, int] = {}


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    wait_ms = str((case.query or {}).get("wait_ms"))
    if wait_ms.isdigit() and int(wait_ms) > 10:
        # A target nobody learns waits its whole time: keep the valid waits short.
        case.query["wait_ms"] = "10"
    response = case.call()
    tried[case.operation.label] = tried.get(case.operation.label, 0) + 1
    # 503 is /ready's documented answer while no consumer runs (it never runs here), and
    # /predict's to an instance with an id, which only a consuming process can record.
    documented_503 = response.status_code == 503 and (
        case.path == "/ready" or "cannot record a prediction served with an id" in response.text
    )
    assert response.status_code < 500 or documented_503, (
        case.method,
        case.path,
        response.text[:300],
    )


def test_the_fuzzer_tried_every_operation_many_times() -> None:
    """Runs after the fuzzing above (file order): it really exercised the schema."""
    operations = {op.label for op in schema.get_all_operations() if hasattr(op, "label")}
    print(f"schemathesis cases tried: {sum(tried.values())} over {len(tried)} operations")
    assert set(tried) >= operations - {""}
    assert sum(tried.values()) >= 10 * len(tried)
