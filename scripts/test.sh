#!/usr/bin/env bash
# The test command: prepare the machine, start the local Kafka broker, type-check and run every
# test, the packed-install test (scripts/packed-install-test.sh), then the quick detection evaluation (issue 10: it must keep running in CI). Exits non-zero when a test
# fails or the evaluation harness breaks; missed detections are reported, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/kafka.sh start || exit 1

npm test
tests=$?

# The packages as users get them: packed, installed outside the repository, used (about 2.5 min).
bash scripts/packed-install-test.sh
packed=$?

eval_out="$(mktemp -d)/EVALUATION.md"
npm run eval -- --quick --out "$eval_out"
evaluation=$?
[ "$evaluation" -eq 0 ] && echo "evaluation report: $eval_out" || echo "the evaluation harness failed (exit $evaluation)" >&2

# Last line: the test totals.
node scripts/test-summary.mjs .cache/vitest-results.json
summary=$?
[ "$packed" -eq 0 ] || echo "the packed-install test failed (exit $packed)" >&2
[ "$tests" -eq 0 ] && [ "$packed" -eq 0 ] && [ "$evaluation" -eq 0 ] && [ "$summary" -eq 0 ]
