#!/usr/bin/env bash
# The whole test suite from a fresh checkout: set-up, lint, type check, then every test
# (one real Kafka broker and, where needed, one real Prometheus, started by the tests).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" tests/service
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/bootstrap.sh"
# shellcheck disable=SC1091
. "${DRIFTLINE_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"

echo "== ruff" >&2
ruff check .
ruff format --check .
echo "== mypy" >&2
mypy
echo "== pytest" >&2
exec python -m pytest --doctest-modules service producer bench tests "$@"
