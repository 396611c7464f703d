/**
 * Learned models: learn on a normal run, then a second normal run raises nothing, and each injected
 * behaviour raises its model's alert. Models are persisted and reloaded.
 */
import { describe, expect, test, beforeEach } from 'vitest';
import type { IEvent } from '@boxwatch/core';
import { Detector, ngramHash, ngramKey, packNgram, unpackNgram, type AlertEvent } from '@boxwatch/detector';
import fc from 'fast-check';
import { DB, advance, connect, ev, exec, resetClock } from '../helpers/events.js';
import { normalRun, normalSecond, rng } from '../helpers/workload.js';

const LEARN_MS = 300_000;

function trained(): { d: Detector; alerts: AlertEvent[] } {
  const d = new Detector({ rules: [], flushIntervalMs: 0, models: { learning: { learnMs: LEARN_MS } } });
  const alerts: AlertEvent[] = [];
  d.on('alert', (a) => alerts.push(a));
  for (const e of normalRun(1, 330)) d.ingest(e);
  return { d, alerts };
}

function feed(d: Detector, events: IEvent[]): void {
  for (const e of events) d.ingest(e);
}

beforeEach(() => resetClock());

describe('learning', () => {
  test('progress goes learning → validating → detecting with fraction and time left', () => {
    const d = new Detector({ rules: [], flushIntervalMs: 0, models: { learning: { learnMs: LEARN_MS } } });
    expect(d.phase).toBe('learning');
    feed(d, normalRun(1, 100));
    const p1 = d.progress();
    expect(p1.phase).toBe('learning');
    expect(p1.fraction).toBeGreaterThan(0.3);
    expect(p1.fraction).toBeLessThan(0.4);
    expect(p1.timeLeftMs).toBeGreaterThan(190_000);
    feed(d, normalRun(2, 130));
    expect(d.phase).toBe('validating');
    feed(d, normalRun(3, 100));
    expect(d.phase).toBe('detecting');
    expect(d.progress().fraction).toBe(1);
    void d.close();
  });

  test('no alerts while learning, none on a second normal run', () => {
    const { d, alerts } = trained();
    expect(d.phase).toBe('detecting');
    expect(alerts).toEqual([]);
    feed(d, normalRun(99, 300));
    expect(alerts.map((a) => `${a.model}: ${a.message}`)).toEqual([]);
    void d.close();
  });
});

describe('injected behaviour', () => {
  test('new binary and new peer container → novelty alerts', () => {
    const { d, alerts } = trained();
    d.ingest(exec('/tmp/xmrig', ['xmrig', '-o', 'pool:3333'], { pid: 900 }));
    d.ingest(connect('172.17.0.9', 6379, { pid: 200, comm: 'nginx' }, { id: 'c'.repeat(64), name: 'redis' }));
    const keys = alerts.filter((a) => a.model === 'novelty').map((a) => a.key);
    expect(keys).toContain('exec:/tmp/xmrig');
    expect(keys).toContain('peer:redis');
    expect(keys).toContain('connect:172.17.0.9:6379');
    void d.close();
  });

  test('syscall burst → frequency alert', () => {
    const { d, alerts } = trained();
    const r = rng(5);
    const out: IEvent[] = [];
    normalSecond(r, 1, out);
    out.push(ev('syscall.count', { syscall: { id: 0, name: 'read' }, count: 250_000, interval_ms: 1000 }, { pid: 0, tid: 0, comm: '' }));
    advance(1000);
    normalSecond(r, 2, out); // closes the burst interval
    feed(d, out);
    const f = alerts.filter((a) => a.model === 'syscall-frequency');
    expect(f.length).toBeGreaterThan(0);
    expect(f[0]!.key).toBe('z:read');
    void d.close();
  });

  test('unseen syscall sequence → STIDE alert', () => {
    const { d, alerts } = trained();
    // A worker thread execs a shell: socket, connect, dup2 x3, execve — never seen in learning.
    d.ingest(ev('syscall.seq', { syscalls: [288, 0, 41, 42, 33, 33, 33, 59, 12, 9, 9, 158] }, { pid: 200, tid: 201, comm: 'nginx' }));
    const s = alerts.filter((a) => a.model === 'syscall-sequence');
    expect(s).toHaveLength(1);
    expect((s[0]!.details as { mismatches: number }).mismatches).toBeGreaterThan(0);
    void d.close();
  });

  test('CPU spin sustained for 2 intervals → resource alert; a single spike is not', () => {
    const { d, alerts } = trained();
    const usage = (cpu: number) =>
      ev('resource.usage', { cpu_percent: cpu, cpu_throttled_ms: 0, memory_bytes: 50e6, memory_limit_bytes: 512e6, oom_kills: 0, pids: 5, io_read_bytes: 0, io_write_bytes: 0, net_rx_bytes: 0, net_tx_bytes: 0, interval_ms: 5000 }, { pid: 0, tid: 0, comm: '' });
    d.ingest(usage(99));
    d.ingest(usage(2));
    expect(alerts.filter((a) => a.model === 'resource')).toEqual([]);
    d.ingest(usage(99.5));
    d.ingest(usage(99.8));
    const r = alerts.filter((a) => a.model === 'resource');
    expect(r).toHaveLength(1);
    expect(r[0]!.key).toBe('cpu_percent');
    void d.close();
  });

  test('another image has its own profile (still learning, no alerts)', () => {
    const { d, alerts } = trained();
    d.ingest(exec('/usr/lib/postgresql/16/bin/postgres', ['postgres'], { pid: 700, container: DB }));
    expect(alerts).toEqual([]);
    expect(d.progress().images.find((i) => i.image === DB.imageId)!.phase).toBe('learning');
    void d.close();
  });
});

describe('persistence', () => {
  test('save → load into a fresh detector gives the same decisions', async () => {
    const { d } = trained();
    const json = JSON.parse(JSON.stringify(d.modelsJSON()));
    const fresh = new Detector({ rules: [], flushIntervalMs: 0, models: { learning: { learnMs: LEARN_MS } } });
    fresh.loadModelsJSON(json);
    expect(fresh.phase).toBe('detecting');
    const alerts: AlertEvent[] = [];
    fresh.on('alert', (a) => alerts.push(a));
    feed(fresh, normalRun(77, 60));
    expect(alerts).toEqual([]);
    fresh.ingest(exec('/tmp/xmrig', ['xmrig'], { pid: 901 }));
    fresh.ingest(ev('syscall.seq', { syscalls: [288, 0, 41, 42, 33, 33, 33, 59] }, { pid: 200, tid: 202, comm: 'nginx' }));
    expect(alerts.map((a) => a.model).sort()).toEqual(['novelty', 'syscall-sequence']);
    expect(() => fresh.loadModelsJSON({ version: 99 } as never)).toThrow(/version/);
    void d.close();
    void fresh.close();
  });
});

describe('n-gram hash', () => {
  test('is FNV-1a 64 over u32 LE ids, stable, and the in-memory key is its low 53 bits', () => {
    // FNV-1a 64 of zero bytes is the offset basis.
    expect(ngramHash([])).toBe(0xcbf29ce484222325n);
    // Reference value for a single byte 0x61 ('a') followed by three zero bytes, computed independently below.
    let h = 0xcbf29ce484222325n;
    for (const b of [0x61, 0, 0, 0]) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
    expect(ngramHash([0x61])).toBe(h);
    expect(ngramHash([1, 2, 3, 4, 5])).not.toBe(ngramHash([5, 4, 3, 2, 1]));
    expect(ngramKey([1, 2, 3, 4, 5])).toBe(Number(ngramHash([1, 2, 3, 4, 5]) & ((1n << 53n) - 1n)));
  });

  test('the learned database stores exactly packNgram() of the n-grams seen (encoding packed10)', () => {
    const { d } = trained();
    const stide = d.modelsJSON().profiles[0]!.stide;
    expect(stide.encoding).toBe('packed10');
    const db = new Set(stide.ngrams);
    expect(db.has(String(packNgram([288, 0, 257, 5, 40])))).toBe(true); // accept read openat fstat sendfile
    expect(db.has(String(packNgram([288, 0, 41, 42, 33])))).toBe(false);
    void d.close();
  });

  test('packNgram is exact and reversible for ids below 1023', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1022 }), { minLength: 1, maxLength: 5 }), (ids) => {
        expect(unpackNgram(packNgram(ids), ids.length)).toEqual(ids);
      }),
    );
    expect(unpackNgram(packNgram([5000, 1, 0x40000001]), 3)).toEqual([1023, 1, 1023]);
  });

  test('a version 1 model file (FNV keys) still loads and detects with its FNV database', () => {
    const { d } = trained();
    const json = d.modelsJSON();
    // Rewrite the saved database as version 1 held it: ngramKey() of each n-gram, no encoding field.
    const v1 = JSON.parse(JSON.stringify(json));
    v1.version = 1;
    for (const p of v1.profiles) {
      delete p.stide.encoding;
      p.stide.ngrams = p.stide.ngrams.map((k: string) => String(ngramKey(unpackNgram(Number(k), p.stide.n))));
      p.stide.pending = [];
    }
    const fresh = new Detector({ rules: [], flushIntervalMs: 0, models: { learning: { learnMs: LEARN_MS } } });
    fresh.loadModelsJSON(v1);
    expect(fresh.modelsJSON().profiles[0]!.stide.encoding).toBe('fnv');
    const alerts: AlertEvent[] = [];
    fresh.on('alert', (a) => alerts.push(a));
    feed(fresh, normalRun(78, 60));
    expect(alerts).toEqual([]);
    fresh.ingest(ev('syscall.seq', { syscalls: [288, 0, 41, 42, 33, 33, 33, 59] }, { pid: 200, tid: 202, comm: 'nginx' }));
    expect(alerts.map((a) => a.model)).toEqual(['syscall-sequence']);
    void d.close();
    void fresh.close();
  });
});
