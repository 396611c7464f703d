/**
 * `boxwatch run` with in-kernel STIDE filtering (pluginOptions.syscall.sequence: kernel) for one watched
 * container: the detector drives the kernel filter through the image's phases (learn mode while
 * learning, the learned n-grams and detect mode while validating, the validation n-grams once
 * detecting), then a normal repeat of the workload (at most one window of it over the threshold: see
 * the test) and an injected run of unusual commands, which must raise a syscall-sequence alert from
 * the kernel's mismatch records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliProcess, ensureBuilt, ensureImage, execIn, readToken, removeContainers, runContainer, tempDir, until, type Line } from '../harness.js';

const NORMAL = 'for i in 1 2 3 4 5 6; do echo hello > /tmp/f; cat /tmp/f > /dev/null; ls / > /dev/null; done';
const ANOMALY = 'uname -a; id; df; ps; netstat -an; mount; stat /etc/passwd; ln -sf /tmp/f /tmp/g; chmod 700 /tmp/f; mkfifo /tmp/p; date; sync; hostname';

const name = `bwtest-kstide-${randomBytes(3).toString('hex')}`;
let cli: CliProcess;
let state: string;

type Alert = { type: string; model?: string; rule?: string; time: string; message: string; container: { name?: string } | null; details?: Record<string, unknown> };
const alertOf = (l: Line) => l.json as Alert | undefined;
const stideOf = (l: Line) => {
  const a = alertOf(l);
  return a?.type === 'alert' && a.model === 'syscall-sequence' && a.container?.name === name ? a : undefined;
};
const modeLine = (phase: string) => (l: Line) => l.json?.msg === 'kernel sequence mode' && l.json.phase === phase;

beforeAll(async () => {
  ensureBuilt();
  await ensureImage();
  await runContainer(name, 'sleep 600');
  state = tempDir();
  const config = join(state, 'boxwatch.yaml');
  // Only the syscall plugin: the image's profile sees only this container (other tests and the
  // evaluation harness run containers of the same image). Learning 30 s, the last 9 s validation.
  writeFileSync(
    config,
    [
      `stateDir: ${state}`,
      'format: ndjson',
      'status: never',
      'plugins: [syscall]',
      'pluginOptions:',
      '  syscall:',
      `    watch: [${name}]`,
      '    sequence: kernel',
      '    kernelSequence:',
      '      drainIntervalMs: 250',
      'api:',
      '  port: 0',
      'detector:',
      '  learnMinutes: 0.5',
      '',
    ].join('\n'),
  );
  cli = new CliProcess(['run', '--config', config]);
  await cli.apiUrl();
}, 180_000);

afterAll(async () => {
  await cli?.stop();
  await removeContainers([name]);
});

describe('boxwatch run with kernel sequence filtering', () => {
  it('learns in the kernel, switches to detect, and alerts on unusual commands', async () => {
    // Learning and validation: repeat the normal workload until the image detects (the detector logs
    // each kernel mode step). A hang guard bounds the loop; no timing is asserted.
    let runs = 0;
    const deadline = Date.now() + 150_000;
    while (!cli.stderr.some(modeLine('detecting'))) {
      if (Date.now() > deadline) throw new Error(`no 'detecting' step after ${runs} runs; stderr tail:\n${cli.stderr.slice(-10).map((l) => l.text).join('\n')}`);
      await execIn(name, ['sh', '-c', NORMAL]);
      runs++;
    }
    // (A re-sync, `resync: true`, would only mean a drain raced a step; the steps themselves are these.)
    const steps = cli.stderr.filter((l) => l.json?.msg === 'kernel sequence mode' && l.json.resync !== true).map((l) => ({ phase: l.json!.phase, mode: l.json!.mode, knownNgrams: l.json!.knownNgrams, image: l.json!.image }));
    console.log(`${runs} normal runs until detecting; kernel steps: ${JSON.stringify(steps.map(({ image: _, ...s }) => s))}`);
    expect(steps.map((s) => [s.phase, s.mode])).toEqual([
      ['learning', 'learn'],
      ['validating', 'detect'],
      ['detecting', 'detect'],
    ]);
    expect(new Set(steps.map((s) => s.image)).size).toBe(1);
    expect(steps[1]!.knownNgrams).toBeGreaterThan(20); // the kernel got the learned n-grams
    expect(cli.stderr.some((l) => l.json?.msg === 'kernel sequence filter off for this image')).toBe(false);
    expect(cli.stdout.some((l) => stideOf(l))).toBe(false); // nothing while learning and validating

    // Detection: a normal repeat, then the unusual commands. Alerts on normal runs are not asserted
    // away: the threshold is the largest variation validation measured, so a normal run (or the
    // tail of the last validation run, judged once detecting) exceeds it with probability about
    // 1/(validation runs + 1); CI saw one at 11 against a threshold of 10. False alerts on normal
    // workloads are what the evaluation measures (eval/). Here: the anomaly must raise its alert.
    const normalFrom = Date.now();
    await execIn(name, ['sh', '-c', NORMAL]);
    const anomalyFrom = Date.now();
    // Twice: the kernel reports every occurrence of an unknown n-gram, so the run stands well above
    // the normal variation validation measured (the threshold).
    await execIn(name, ['sh', '-c', `${ANOMALY}; ${ANOMALY}`]);
    const hit = await cli.waitFor('stdout', (l) => stideOf(l) !== undefined && Date.parse(stideOf(l)!.time) >= anomalyFrom, 60_000);
    const alert = stideOf(hit)!;
    const before = cli.stdout.map(stideOf).filter((a): a is Alert => a !== undefined && Date.parse(a.time) < anomalyFrom);
    console.log(`alert: ${alert.message} (normal repeat from ${normalFrom}, anomaly from ${anomalyFrom}, alert event ${Date.parse(alert.time)}; ${before.length} alert(s) before the anomaly)`);
    expect(alert.message).toMatch(/^unseen syscall sequences: \d+ mismatching 5-grams in the last 1000 \(threshold \d+\)$/);
    expect(Number(alert.details!.mismatches)).toBeGreaterThan(Number(alert.details!.threshold));
    // At most one normal window can have tipped over the threshold (a coin toss, above); the anomaly
    // runs stand well above it.
    expect(before.length).toBeLessThanOrEqual(1);

    // The control API shows the kernel filter in detect mode for the image, nothing lost.
    const api = await cli.apiUrl();
    const token = readToken(state);
    const stats = await until(async () => {
      const r = await fetch(`${api}/v1/stats`, { headers: { authorization: `Bearer ${token}` } });
      return (await r.json()) as { detector: { models: { kernelSequence?: Record<string, number> } }; collector: { plugins: Record<string, { lost: number; kernelSequence?: { profiles: Array<{ image: string; mode: string; knownNgrams: number }> } }> } };
    }, 10_000, '/v1/stats');
    expect(stats.detector.models.kernelSequence).toMatchObject({ images: 1, failed: 0 });
    const profile = stats.collector.plugins.syscall!.kernelSequence!.profiles.find((p) => p.image === steps[0]!.image);
    expect(profile).toMatchObject({ mode: 'detect' });
    expect(profile!.knownNgrams).toBeGreaterThanOrEqual(steps[1]!.knownNgrams as number);
    expect(stats.collector.plugins.syscall!.lost).toBe(0);
  }, 300_000);
});
