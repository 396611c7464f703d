/**
 * The resource model (issue 12) on real cgroup accounting: plugin-resources reads the containers every
 * second through core's Collector; the image's profile learns an idle container, then a second container
 * of the image that forks 40 sleepers raises a `pids` alert after `sustain` (2) intervals, while the idle
 * one stays quiet; then a CPU spinner (capped with --cpus 0.5, so its share is set by the CFS quota and
 * not by the shared machine's other load) raises a `cpu_percent` alert.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Collector, silentLogger } from '@boxwatch/core';
import { resources } from '@boxwatch/plugin-resources';
import { Detector, type AlertEvent } from '@boxwatch/detector';
import { Containers, ensureImage, waitFor } from './harness.js';

const run = `r${Math.random().toString(36).slice(2, 7)}`;
const boxes = new Containers();
let collector: Collector;
let detector: Detector;
const alerts: AlertEvent[] = [];
const usage: Array<{ name: string; pids: number | null }> = [];

beforeAll(async () => {
  await ensureImage();
  detector = new Detector({ rules: [], flushIntervalMs: 0, models: { learning: { learnMs: 6000 } } });
  detector.on('alert', (a) => alerts.push(a));
  collector = new Collector({ plugins: [resources({ intervalMs: 1000 })], logger: silentLogger });
  collector.on('event', (e) => {
    if (!e.container?.name?.startsWith(`bwtest-det-${run}-`)) return; // other engineers' containers share the image
    usage.push({ name: e.container.name, pids: (e as unknown as { pids: number | null }).pids });
    detector.ingest(e);
  });
  await collector.start();
  expect(collector.pluginStates()).toEqual([{ name: 'resources', state: 'running', error: undefined }]);
});

afterAll(async () => {
  await boxes.removeAll();
  await collector?.stop();
  await detector?.close();
});

describe('resource model on real containers', () => {
  test('learn idle, then 40 forked sleepers raise a pids alert on the second interval above the threshold; idle stays quiet', async () => {
    const idle = await boxes.start(`${run}-idle`);
    await waitFor('the image to finish learning', () => detector.phase === 'detecting' && detector.progress().images.length === 1, 40_000);
    const learned = detector.modelsJSON().profiles[0]!.resource;
    expect(learned.trained).toBe(true);
    expect(learned.thresholds.pids).toBeGreaterThan(1);

    const forker = await boxes.start(`${run}-forker`, [], ['sh', '-c', 'for i in $(seq 40); do sleep 600 & done; wait']);
    const threshold = learned.thresholds.pids!;
    const seenForker = () => usage.filter((u) => u.name === forker && (u.pids ?? 0) > threshold).length;
    const alert = await waitFor('pids alert', () => alerts.find((a) => a.model === 'resource' && a.key === 'pids'), 30_000);
    expect(alert.container?.name).toBe(forker);
    expect(alert.details).toMatchObject({ metric: 'pids', intervals: 2 });
    // Raised on the second interval above the threshold, not later.
    expect(seenForker()).toBeGreaterThanOrEqual(2);
    expect(seenForker()).toBeLessThanOrEqual(3);
    // The idle container kept reporting and raised nothing.
    expect(usage.filter((u) => u.name === idle).length).toBeGreaterThan(6);
    expect(alerts.filter((a) => a.container?.name === idle)).toEqual([]);
  });

  test('a CPU spinner (issue 12) raises a cpu_percent alert within two intervals of the learned idle profile', async () => {
    const idle = usage.find((u) => u.name.includes('-idle'))?.name;
    const learned = detector.modelsJSON().profiles[0]!.resource;
    const threshold = learned.thresholds.cpu_percent!;
    expect(threshold).toBeLessThan(40); // learned from an idle container, plus the model's slack
    // Capped at half a CPU: its share is then set by the CFS quota, not by the machine's other load.
    const spinner = await boxes.start(`${run}-spin`, ['--cpus', '0.5'], ['sh', '-c', 'while :; do :; done']);
    const alert = await waitFor('cpu_percent alert', () => alerts.find((a) => a.model === 'resource' && a.key === 'cpu_percent' && a.container?.name === spinner), 30_000);
    expect(alert.details).toMatchObject({ metric: 'cpu_percent', intervals: 2 });
    const over = usage.filter((u) => u.name === spinner).length;
    expect(over).toBeGreaterThanOrEqual(2);
    expect(alerts.filter((a) => a.container?.name === idle)).toEqual([]);
  });
});
