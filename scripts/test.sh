#!/usr/bin/env bash
# The test command: prepare the machine, start the local Kafka broker, run every test, then the
# quick detection evaluation (issue 10: it must keep running in CI). Exits non-zero when a test
# fails, the evaluation harness breaks, or the evaluation finds a detection regression (issue 20:
# a scenario a default rule targets missed by its rules, or a rule alert on a normal workload;
# model-only results are reported, not fatal).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/kafka.sh start || exit 1

npm test
tests=$?

eval_out="$(mktemp -d)/EVALUATION.md"
npm run eval -- --quick --strict --out "$eval_out"
evaluation=$?
case "$evaluation" in
  0) echo "evaluation report: $eval_out" ;;
  2) echo "detection regression (EVAL REGRESSION lines above); report: $eval_out" >&2 ;;
  *) echo "the evaluation harness failed (exit $evaluation)" >&2 ;;
esac

# Last line: the test totals.
node scripts/test-summary.mjs .cache/vitest-results.json
summary=$?
[ "$tests" -eq 0 ] && [ "$evaluation" -eq 0 ] && [ "$summary" -eq 0 ]
