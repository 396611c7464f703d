import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEvent, type IEvent } from '@boxwatch/core';
import { kernelNgramKey as pluginKey, rollKernelNgramKey, kernelNgramIds } from '@boxwatch/plugin-syscall';
import { StideModel, newStideProfile, packNgram, type StideProfile } from '../../src/models/stide.js';
import { KernelStideModel, kernelKeysOf } from '../../src/models/kernel-stide.js';
import { simulateKernelFilter } from '../../src/models/kernel-stide-sim.js';
import type { Anomaly, Phase } from '../../src/models/types.js';

const container = { id: 'c'.repeat(64), name: 'box', imageId: 'sha256:img' };
const header = (tid: number) => ({ time: new Date(0), ts: 0n, host: 'h', container, cgroupId: 7n, pid: tid, tid, comm: 'x' });
const seqEvent = (tid: number, syscalls: number[]): IEvent => createEvent('syscall.seq', header(tid), { syscalls });
const stats = (matchesTotal: number): IEvent => createEvent('syscall.seq_stats', header(0), { matches_total: matchesTotal });

function cloneProfile(p: StideProfile): StideProfile {
  return { ...p, ngrams: new Set(p.ngrams), pending: new Set(p.pending) };
}

/** Run one phase of both paths on the same stream; returns the anomalies of each. */
function bothPaths(stream: IEvent[], profile: StideProfile, phase: Phase) {
  const user = cloneProfile(profile);
  const kern = cloneProfile(profile);
  const u: Anomaly[] = [];
  const k: Anomaly[] = [];
  const um = new StideModel();
  for (const e of stream) um.observe(user, container.id, e, phase, (a) => u.push(a));
  const km = new KernelStideModel();
  const sim = simulateKernelFilter(stream, profile.ngrams, profile.n);
  for (const e of sim.events) km.observe(kern, container.id, e, phase, (a) => k.push(a));
  km.observe(kern, container.id, stats(sim.matches.get(container.id) ?? 0), phase, (a) => k.push(a));
  return { u, k, user, kern, km };
}

const strip = (as: Anomaly[]) => as.map((a) => ({ message: a.message, details: a.details, key: a.key, tid: a.event.tid }));

describe('kernel STIDE keys', () => {
  it('the plugin key, its rolling form and the model key are the same number', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1023 }), { minLength: 5, maxLength: 40 }), (ids) => {
        let rolled = 0;
        for (const id of ids) rolled = rollKernelNgramKey(rolled, id, 5);
        const last = ids.slice(-5);
        expect(rolled).toBe(packNgram(last));
        expect(pluginKey(last)).toBe(packNgram(last));
        expect(kernelNgramIds(rolled, 5)).toEqual(last);
      }),
    );
  });

  it('refuses profiles whose keys are hashes', () => {
    expect(() => kernelKeysOf(newStideProfile({ n: 6 }))).toThrow(/packed10/);
    expect([...kernelKeysOf(newStideProfile({ n: 5 }))]).toEqual([]);
  });
});

describe('kernel STIDE window = userspace STIDE window', () => {
  // A small alphabet makes a learned database that covers most but not all of the detection stream.
  const ids = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 80 });

  function learned(train: number[][]): StideProfile {
    const p = newStideProfile({ window: 50 });
    const m = new StideModel();
    train.forEach((s) => m.observe(p, container.id, seqEvent(1, s), 'learning', () => undefined));
    return p;
  }

  it('same alerts, same threshold and pending set on random single-thread streams (validating then detecting)', () => {
    fc.assert(
      fc.property(fc.array(ids, { minLength: 1, maxLength: 10 }), fc.array(ids, { minLength: 1, maxLength: 10 }), fc.array(ids, { minLength: 1, maxLength: 20 }), (train, validate, detect) => {
        const p = learned(train);
        const v = bothPaths(validate.map((s) => seqEvent(2, s)), p, 'validating');
        expect(v.kern.threshold).toBe(v.user.threshold);
        expect([...v.kern.pending].sort()).toEqual([...v.user.pending].sort());
        const d = bothPaths(detect.map((s) => seqEvent(3, s)), v.user, 'detecting');
        expect(strip(d.k)).toEqual(strip(d.u));
      }),
      { numRuns: 300 },
    );
  });

  it('an injected anomaly alerts once on both paths, and not without it', () => {
    const normal = Array.from({ length: 40 }, () => [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    const p = learned(normal);
    p.threshold = 2;
    const clean = bothPaths(normal.map((s) => seqEvent(3, s)), p, 'detecting');
    expect(clean.u).toHaveLength(0);
    expect(clean.k).toHaveLength(0);
    const attacked = [...normal.slice(0, 20), [9, 8, 7, 6, 5, 9, 8, 7], ...normal.slice(20)].map((s) => seqEvent(3, s));
    const d = bothPaths(attacked, p, 'detecting');
    expect(d.u).toHaveLength(1);
    expect(strip(d.k)).toEqual(strip(d.u));
    expect(d.k[0]!.details).toMatchObject({ mismatches: 3, threshold: 2 });
  });

  it('counter totals that arrive before a record are not counted twice', () => {
    const p = newStideProfile({ window: 10 });
    p.ngrams.add(packNgram([1, 1, 1, 1, 1]));
    const km = new KernelStideModel();
    const mis = (gap: number) => createEvent('syscall.seq_mismatch', header(1), { syscalls: [2, 2, 2, 2, 2], ngram: packNgram([2, 2, 2, 2, 2]), gap });
    km.observe(p, 'c', mis(0), 'detecting', () => undefined);
    km.observe(p, 'c', stats(12), 'detecting', () => undefined); // 12 matches after it: the window is all matches
    expect(km.windowMismatches('c')).toBe(0);
    km.observe(p, 'c', mis(12), 'detecting', () => undefined); // the same 12 matches, reported as this record's gap
    expect(km.windowMismatches('c')).toBe(1);
  });
});
