#!/usr/bin/env bash
# Idempotent set-up of everything Driftline needs on a fresh Debian machine:
#   - a virtualenv (.venv) with the project and its dev tools, pinned by constraints.txt;
#   - Debian's prometheus package (prometheus + promtool), unless DRIFTLINE_SKIP_PROMETHEUS=1,
#     wrk and hey, the HTTP load generators of the benchmarks (python -m bench), and kcat, a
#     Kafka client nobody here wrote, for the record property tests: tools of
#     the tests, all skipped with DRIFTLINE_SKIP_TEST_TOOLS=1 (what scripts/run.sh sets);
#   - the Apache Kafka broker jars from Maven Central, into a cache outside the repository.
# Re-running it when everything is present takes about a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${DRIFTLINE_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.driftline-installed"
wanted=$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "installing Driftline and its dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
    echo "$wanted" >"$stamp"
fi

# Debian packages the tests and benchmarks use, by the command that shows each is there.
# DRIFTLINE_SKIP_TEST_TOOLS=1 (the main job) skips them all.
missing=()
if [ "${DRIFTLINE_SKIP_TEST_TOOLS:-0}" != 1 ]; then
    if [ "${DRIFTLINE_SKIP_PROMETHEUS:-0}" != 1 ] && ! command -v promtool >/dev/null 2>&1; then
        missing+=(prometheus)
    fi
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v hey >/dev/null 2>&1 || missing+=(hey)
    # kcat (librdkafka's client) produces the hostile records of the Kafka property tests.
    command -v kcat >/dev/null 2>&1 || missing+=(kcat)
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$VENV/bin/python" "$ROOT/scripts/local_broker.py" fetch
