#!/usr/bin/env bash
# The main job, from a fresh checkout: a local Kafka broker (unless DRIFTLINE_BOOTSTRAP_SERVERS
# names your own), the Driftline service, and a producer replaying a drifting stream at a
# steady rate. Prints where to look, then serves until Ctrl-C.
#
#   SCENARIO=abrupt EVENTS=20000 RATE=200 scripts/run.sh
#   RUN_ONCE=1 scripts/run.sh     # stop the service once the replay is learned (for scripts)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIFTLINE_SKIP_TEST_TOOLS=${DRIFTLINE_SKIP_TEST_TOOLS:-1} "$ROOT/scripts/bootstrap.sh"
# shellcheck disable=SC1091
. "${DRIFTLINE_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"

SCENARIO=${SCENARIO:-abrupt}
EVENTS=${EVENTS:-20000}
RATE=${RATE:-200}
export DRIFTLINE_TOPIC=${DRIFTLINE_TOPIC:-driftline.events}
export DRIFTLINE_PORT=${DRIFTLINE_PORT:-8000}
export DRIFTLINE_HOST=${DRIFTLINE_HOST:-127.0.0.1}
URL="http://$DRIFTLINE_HOST:$DRIFTLINE_PORT"
STATE_DIR=${DRIFTLINE_RUN_DIR:-$HOME/.cache/driftline/run}
mkdir -p "$STATE_DIR"

say() { printf '\033[1m[driftline]\033[0m %s\n' "$*" >&2; }

if [ -z "${DRIFTLINE_BOOTSTRAP_SERVERS:-}" ]; then
    python scripts/local_broker.py start
    export DRIFTLINE_BOOTSTRAP_SERVERS=localhost:9092
else
    say "using the Kafka broker at $DRIFTLINE_BOOTSTRAP_SERVERS"
fi

# A fresh topic per run, so the fresh model reads exactly this replay.
RUN_TOPIC="$DRIFTLINE_TOPIC.$(date +%Y%m%d-%H%M%S)"
export DRIFTLINE_TOPIC=$RUN_TOPIC
export DRIFTLINE_DEAD_LETTER_TOPIC=${DRIFTLINE_DEAD_LETTER_TOPIC:-$RUN_TOPIC.dead-letter}
export DRIFTLINE_GROUP_ID=${DRIFTLINE_GROUP_ID:-driftline-$RUN_TOPIC}

python -m service >"$STATE_DIR/service.log" 2>&1 &
SERVICE_PID=$!
PRODUCER_PID=""
cleanup() {
    [ -n "$PRODUCER_PID" ] && kill "$PRODUCER_PID" 2>/dev/null || true
    kill -TERM "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the service (log: $STATE_DIR/service.log)"
for _ in $(seq 1 120); do
    if curl -sf "$URL/ready" >/dev/null; then break; fi
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
        tail -n 30 "$STATE_DIR/service.log" >&2
        say "the service exited; see above"
        exit 1
    fi
    sleep 0.5
done
curl -sf "$URL/ready" >/dev/null || { say "service not ready after 60 s"; exit 1; }

say "replaying scenario '$SCENARIO' ($EVENTS events at $RATE/s) into topic $RUN_TOPIC"
python -m producer scenario "$SCENARIO" --n "$EVENTS" --rate "$RATE" --topic "$RUN_TOPIC" \
    --bootstrap-servers "$DRIFTLINE_BOOTSTRAP_SERVERS" --quiet &
PRODUCER_PID=$!

cat >&2 <<EOT

  Driftline is learning from $RUN_TOPIC and serving on $URL

    curl -s $URL/predict -H 'content-type: application/json' \\
         -d '{"features": {"x0": 0.3, "x1": 0.9, "x2": 0.5}}'
    curl -s $URL/model
    curl -s $URL/metrics | grep '^driftline_'

  Ctrl-C stops the service; 'python scripts/local_broker.py stop' stops the broker.

EOT

wait "$PRODUCER_PID"
PRODUCER_PID=""
for _ in $(seq 1 600); do
    learned=$(curl -sf "$URL/model" | python -c 'import json,sys; print(json.load(sys.stdin)["offsets"].get("0", 0))')
    [ "$learned" -ge "$EVENTS" ] && break
    sleep 0.2
done
say "replay learned: $(curl -sf "$URL/model" | python -c 'import json,sys; m=json.load(sys.stdin); print(m["events_learned"], "events;", "prequential", m["metrics"]["cumulative"])')"
if [ "${RUN_ONCE:-0}" = 1 ]; then
    exit 0
fi
say "still serving; Ctrl-C to stop"
wait "$SERVICE_PID"
