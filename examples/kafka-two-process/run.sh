#!/usr/bin/env bash
# agent → Kafka → detector in two processes, driven by this one script.
#
#   bash examples/kafka-two-process/run.sh [seconds]      (default: until Ctrl-C)
#
# Needs a broker (this repository: `bash scripts/kafka.sh start`). Environment: BOXWATCH (the command,
# default the built CLI of this repository), BROKERS, PREFIX (topic prefix), STATE_DIR. Alerts from
# the detector are printed on stdout; both processes' logs go to stderr.
# AGENT_API_PORT / DETECT_API_PORT override the control API ports (0 = any free port).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BOXWATCH="${BOXWATCH:-node $here/../../packages/cli/dist/cli.js}"
BROKERS="${BROKERS:-127.0.0.1:9092}"
PREFIX="${PREFIX:-boxwatch-example}"
STATE_DIR="${STATE_DIR:-$(mktemp -d)}"
duration=()
if [ "${1:-0}" != 0 ]; then duration=(--duration "$1"); fi

# Flags override the YAML files: same files, per-run topics and state.
$BOXWATCH agent --config "$here/agent.yaml" --brokers "$BROKERS" --topic-prefix "$PREFIX" \
  --state-dir "$STATE_DIR/agent" --api-port "${AGENT_API_PORT:-7071}" "${duration[@]}" &
agent=$!
$BOXWATCH detect --config "$here/detect.yaml" --brokers "$BROKERS" --topic-prefix "$PREFIX" \
  --group-id "$PREFIX-detectors" --state-dir "$STATE_DIR/detect" --api-port "${DETECT_API_PORT:-7072}" "${duration[@]}" &
detect=$!

stop() { kill -TERM "$agent" "$detect" 2>/dev/null || true; }
trap stop INT TERM
# A trapped signal interrupts `wait` (status > 128) while the children are still draining: wait again.
set +e
status=0
for pid in "$agent" "$detect"; do
  while :; do
    wait "$pid"
    rc=$?
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    break
  done
  [ "$rc" -ne 0 ] && status=$rc
done
exit "$status"
