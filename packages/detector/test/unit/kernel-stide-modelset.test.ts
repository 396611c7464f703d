/**
 * ModelSet end to end on the kernel path: the same recorded `syscall.seq` stream goes (a) straight into
 * one ModelSet (userspace STIDE) and (b) through the TypeScript reference of the kernel filter
 * (KernelFilterSim, driven by a second ModelSet as the real plugin is: learn mode, then the learned
 * n-grams and detect mode, then the validation n-grams) into a second ModelSet as `syscall.ngrams`,
 * `syscall.seq_mismatch` and `syscall.seq_stats`. Both must learn the same database, measure the same
 * threshold and raise the same STIDE alerts (message, numbers, thread) — none for normal runs, one for
 * the injected unusual commands.
 */
import { describe, expect, it } from 'vitest';
import { createEvent, type IEvent } from '@boxwatch/core';
import { ModelSet, type KernelSequenceNote } from '../../src/models/model-set.js';
import { KernelFilterSim } from '../../src/models/kernel-stide-sim.js';
import type { Anomaly } from '../../src/models/types.js';
import { rng } from '../helpers/workload.js';

const IMAGE = 'sha256:recorded';
const container = { id: 'a'.repeat(64), name: 'web', imageId: IMAGE };
const T0 = Date.UTC(2025, 0, 1);
const LEARN_MS = 60_000;
const RUN_EVERY_MS = 500;

// "Programs" of a busybox-like container: exec prologue, a loop body repeated, an epilogue (x86_64 ids).
const PROLOGUE = [59, 12, 158, 9, 21, 257, 5, 9, 3, 257, 0, 5, 9, 10, 3, 218, 273, 334, 302];
const BODIES = [
  [257, 5, 0, 0, 1, 3], // cat
  [257, 217, 217, 3, 1, 1], // ls
  [4, 257, 1, 3], // echo > file
  [13, 14, 56, 61, 13], // sh running a child
];
const EPILOGUE = [1, 3, 231];
const ANOMALY = [63, 102, 104, 107, 108, 99, 137, 165, 90, 133, 88, 162, 170, 63, 16, 41, 42, 54, 55, 49, 50, 43];

/** One run = one new thread: prologue, 2-5 iterations of 1-2 bodies, sometimes a benign rarity. */
function normalRun(r: () => number): number[] {
  const ids = [...PROLOGUE];
  const bodies = [BODIES[Math.floor(r() * BODIES.length)]!, BODIES[Math.floor(r() * BODIES.length)]!];
  const reps = 2 + Math.floor(r() * 4);
  for (let i = 0; i < reps; i++) for (const b of bodies) ids.push(...b);
  if (r() < 0.1) ids.splice(PROLOGUE.length + Math.floor(r() * 6), 0, 39); // an occasional getpid
  ids.push(...EPILOGUE);
  return ids;
}

/** A recorded stream: syscall.seq events of up to 64 ids, one thread per run. */
function recorded(runs: number[][], startMs: number, base = T0): IEvent[] {
  const out: IEvent[] = [];
  runs.forEach((ids, i) => {
    const tid = 1000 + Math.floor(startMs / RUN_EVERY_MS) + i;
    const time = new Date(base + startMs + i * RUN_EVERY_MS);
    for (let off = 0; off < ids.length; off += 64) {
      out.push(createEvent('syscall.seq', { time, ts: 0n, host: 'h', container, cgroupId: 7n, pid: tid, tid, comm: 'sh' }, { syscalls: ids.slice(off, off + 64) }));
    }
  });
  return out;
}

const strip = (as: Anomaly[]) => as.map((a) => ({ model: a.model, key: a.key, message: a.message, details: a.details, tid: a.event.tid }));

describe('ModelSet on kernel sequence events = ModelSet on the recorded stream', () => {
  it('learns the same database and threshold, drives the kernel through its phases, and raises the same STIDE alert', () => {
    const r = rng(11);
    const learnRuns = Array.from({ length: LEARN_MS / RUN_EVERY_MS }, () => normalRun(r));
    const learning = recorded(learnRuns, 0);
    const normal = recorded(Array.from({ length: 20 }, () => normalRun(r)), LEARN_MS);
    const attack = recorded([normalRun(r), [...PROLOGUE, ...ANOMALY, ...ANOMALY, ...EPILOGUE], normalRun(r), normalRun(r)], LEARN_MS + 20 * RUN_EVERY_MS);
    const stream = [...learning, ...normal, ...attack];
    const opts = { learning: { learnMs: LEARN_MS } };

    // (a) userspace: every id into StideModel.
    const user = new ModelSet(opts);
    const userAlerts: Anomaly[] = [];
    const userAt = new Map<IEvent, number>();
    for (const e of stream) {
      user.observe(e, (a) => userAlerts.push(a));
      userAt.set(e, userAlerts.length);
    }

    // (b) kernel: the reference filter, driven by the ModelSet through KernelSequenceControl.
    const sim = new KernelFilterSim(5);
    const notes: KernelSequenceNote[] = [];
    const kern = new ModelSet({ ...opts, kernelSequence: sim, onKernelSequence: (n) => notes.push(n) });
    const kernAlerts: Anomaly[] = [];
    const feed = (e: IEvent) => kern.observe(e, (a) => kernAlerts.push(a));
    let records = 0;
    for (const e of stream) {
      // The plugin drains before the next work reaches the kernel (a tick for the model's phase too).
      for (const d of sim.drain(e.time)) feed(d);
      const out = sim.feed(e);
      records += out.length;
      for (const m of out) feed(m);
    }
    for (const d of sim.drain(new Date(T0 + 10 * LEARN_MS))) feed(d);

    const up = user.profile(IMAGE)!.stide;
    const kp = kern.profile(IMAGE)!.stide;
    // Same database (learning + validation n-grams) and threshold.
    expect(up.ngrams.size).toBeGreaterThan(100);
    expect([...kp.ngrams].sort()).toEqual([...up.ngrams].sort());
    expect(kp.threshold).toBe(up.threshold);
    expect(up.threshold).toBeGreaterThan(0); // validation saw some novelty: the threshold is measured, not 0
    // The kernel went learn → detect (validating) → detect with the validation n-grams; it knows the whole database.
    expect(notes.filter((n) => n.kind === 'mode').map((n) => [n.phase, (n as { mode: string }).mode])).toEqual([
      ['learning', 'learn'],
      ['validating', 'detect'],
      ['detecting', 'detect'],
    ]);
    expect(notes.some((n) => n.kind === 'added' && n.added > 0)).toBe(true);
    expect(sim.modeOf(IMAGE)).toBe('detect');
    expect([...sim.knownOf(IMAGE)].sort()).toEqual([...up.ngrams].sort());
    expect(kern.kernelSequenceStats()).toMatchObject({ images: 1, failed: 0, resyncs: 0, staleMismatches: 0, lateNgrams: 0, wrongN: 0 });

    // Far fewer records than ids: only novelties cross.
    const ids = stream.reduce((a, e) => a + (e as unknown as { syscalls: number[] }).syscalls.length, 0);
    expect(records * 20).toBeLessThan(ids);

    // Alerts: none on the normal detection runs, exactly one for the unusual commands, identical on both paths.
    const seqAlerts = (as: Anomaly[]) => as.filter((a) => a.model === 'syscall-sequence');
    expect(userAt.get(normal[normal.length - 1]!)).toBe(0);
    expect(seqAlerts(userAlerts)).toHaveLength(1);
    expect(seqAlerts(userAlerts)[0]!.event.tid).toBe(attack[0]!.tid + 1);
    expect(strip(seqAlerts(kernAlerts))).toEqual(strip(seqAlerts(userAlerts)));
    console.log(`${ids} ids, ${records} mismatch records, ${up.ngrams.size} n-grams, threshold ${up.threshold}; alert: ${seqAlerts(kernAlerts)[0]!.message}`);
  });

  it('re-syncs a kernel that lost its state (plugin restarted in learn mode) without learning while detecting', () => {
    const r = rng(5);
    // On the wall clock: learning ended in the past, the restart happens now, its drains come after.
    const base = Date.now() - 1.5 * LEARN_MS;
    const stream = recorded(Array.from({ length: 2 * (LEARN_MS / RUN_EVERY_MS) }, () => normalRun(r)), 0, base);
    const sim = new KernelFilterSim(5);
    const kern = new ModelSet({ learning: { learnMs: LEARN_MS }, kernelSequence: sim });
    let restarted = false;
    let sizeAtRestart = -1;
    for (const e of stream) {
      if (!restarted && e.time.getTime() >= base + LEARN_MS * 1.5) {
        // What a restarted plugin looks like: the initial mode again, an empty known set.
        sim.setSequenceMode(IMAGE, 'learn');
        sim.addKnownNgrams(IMAGE, []);
        (sim as unknown as { known: Map<string, Set<number>> }).known.clear();
        restarted = true;
        sizeAtRestart = kern.profile(IMAGE)!.stide.ngrams.size;
      }
      for (const d of sim.drain(e.time)) kern.observe(d, () => undefined);
      for (const m of sim.feed(e)) kern.observe(m, () => undefined);
    }
    const p = kern.profile(IMAGE)!.stide;
    const stats = kern.kernelSequenceStats()!;
    expect(stats.resyncs).toBeGreaterThan(0);
    expect(stats.lateNgrams).toBeGreaterThan(0);
    expect(p.ngrams.size).toBe(sizeAtRestart); // what the restarted kernel counted was not learned
    expect(sim.modeOf(IMAGE)).toBe('detect');
    expect([...sim.knownOf(IMAGE)].sort()).toEqual([...p.ngrams].sort());
  });

  it('redoes the step when a counter drain after it names another mode', () => {
    // Learning in the past (its drains come before the steps on the wall clock), the restart now.
    const T = Date.now() - 10_000;
    const sim = new KernelFilterSim(5);
    const notes: KernelSequenceNote[] = [];
    const ms = new ModelSet({ learning: { learnMs: 1000 }, kernelSequence: sim, onKernelSequence: (n) => notes.push(n) });
    const seq = (t: number, ids: number[]) => createEvent('syscall.seq', { time: new Date(T + t), ts: 0n, host: 'h', container, cgroupId: 7n, pid: 9, tid: 9, comm: 'sh' }, { syscalls: ids });
    const step = (e: IEvent) => {
      for (const d of sim.drain(e.time)) ms.observe(d, () => undefined);
      for (const m of sim.feed(e)) ms.observe(m, () => undefined);
    };
    step(seq(0, [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7]));
    step(seq(500, [1, 2, 3])); // its drain is the image's first event: learning starts
    step(seq(2500, [1, 2, 3, 4, 5])); // learning over (no validation share of 1 s at this rate): detect
    expect(sim.modeOf(IMAGE)).toBe('detect');
    // The counts drained with that step were learning data: learned, not taken for an out-of-step kernel.
    expect(ms.kernelSequenceStats()).toMatchObject({ resyncs: 0, lateNgrams: 0 });
    expect(sim.knownOf(IMAGE).size).toBeGreaterThan(5);
    // The plugin restarts: initial mode, nothing known. Its next drain names mode learn.
    (sim as unknown as { known: Map<string, Set<number>> }).known.clear();
    sim.setSequenceMode(IMAGE, 'learn');
    step(seq(15_000, [1, 2, 3])); // a drain after the restart: mode learn
    expect(sim.modeOf(IMAGE)).toBe('detect');
    expect([...sim.knownOf(IMAGE)].sort()).toEqual([...ms.profile(IMAGE)!.stide.ngrams].sort());
    expect(ms.kernelSequenceStats()!.resyncs).toBe(1);
    expect(notes.filter((n) => n.kind === 'mode' && n.resync)).toHaveLength(1);
  });

  it('switches the kernel off for a profile whose keys cannot go into it, and retries while the plugin is not running', async () => {
    const { BoxwatchError } = await import('@boxwatch/core');
    let running = false;
    const calls: string[] = [];
    const control = {
      setSequenceMode(image: string, mode: string) {
        if (!running) throw new BoxwatchError('ERR_STATE', 'not running');
        calls.push(`${image}:${mode}`);
      },
      addKnownNgrams: () => 0,
    };
    const notes: KernelSequenceNote[] = [];
    const ms = new ModelSet({ stide: { n: 6 }, learning: { learnMs: 1000 }, kernelSequence: control, onKernelSequence: (n) => notes.push(n) });
    const ev = (t: number) => createEvent('syscall.count', { time: new Date(T0 + t), ts: 0n, host: 'h', container, cgroupId: 7n, pid: 1, tid: 1, comm: 'x' }, { syscall: 'read', count: 1, interval_ms: 1000 });
    ms.observe(ev(0), () => undefined);
    expect(calls).toEqual([]);
    running = true;
    ms.observe(ev(10), () => undefined); // within the retry delay: not yet
    await new Promise((r) => setTimeout(r, 1100));
    ms.observe(ev(20), () => undefined);
    expect(calls).toEqual([`${IMAGE}:learn`]);
    ms.observe(ev(800), () => undefined); // validating: fnv keys (n 6) cannot go into the kernel
    expect(calls).toEqual([`${IMAGE}:learn`, `${IMAGE}:off`]);
    expect(notes.find((n) => n.kind === 'error')).toMatchObject({ image: IMAGE, phase: 'validating' });
    ms.observe(ev(2000), () => undefined);
    expect(calls).toHaveLength(2);
    expect(ms.kernelSequenceStats()).toMatchObject({ failed: 1 });
  });
});
