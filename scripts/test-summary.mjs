#!/usr/bin/env node
// Print the test run's totals as one plain closing line ("N passed, N failed, N skipped") from
// vitest's JSON report, so a reader (or CI) sees the count without scrolling.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.cache/vitest-results.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`test-summary: cannot read ${file}: ${err.message}`);
  process.exit(1);
}
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(r.numFailedTests > 0 || r.numTotalTests === 0 ? 1 : 0);
