#!/usr/bin/env bash
# The test command: prepare the machine, start the local Kafka broker, type-check and run every
# test, the packed-install test (scripts/packed-install-test.sh), the kernel matrix (the BPF side
# on Debian's kernels in QEMU), then the quick detection evaluation (issue 10: it must keep running
# in CI). Exits non-zero when a test, the packed install or a matrix check fails, the evaluation
# harness breaks, or the evaluation finds a detection regression (issue 20: a scenario a default
# rule targets missed by its rules, or a rule alert on a normal workload; model-only results are
# reported, not fatal).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/kafka.sh start || exit 1

npm test
tests=$?

# The packages as users get them: packed, installed outside the repository, used (about 2.5 min).
bash scripts/packed-install-test.sh
packed=$?

kernels_out="$(mktemp -d)/kernels.md"
npm run test:kernels -- --out "$kernels_out"
kernels=$?
echo "kernel matrix: $kernels_out"

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
[ "$packed" -eq 0 ] || echo "the packed-install test failed (exit $packed)" >&2
[ "$kernels" -eq 0 ] || echo "the kernel matrix failed (exit $kernels)" >&2
[ "$tests" -eq 0 ] && [ "$packed" -eq 0 ] && [ "$kernels" -eq 0 ] && [ "$evaluation" -eq 0 ] && [ "$summary" -eq 0 ]
