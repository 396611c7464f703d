import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeKeys, KernelClock, ReorderBuffer } from '@boxwatch/core';

describe('ReorderBuffer', () => {
  it('releases items older than the window in key order, stable for equal keys', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ key: fc.integer({ min: 0, max: 1000 }), id: fc.nat() })), fc.integer({ min: 0, max: 1200 }), (items, now) => {
        const buf = new ReorderBuffer<{ key: number; id: number }>((x) => x.key, 100);
        items.forEach((x) => buf.push(x));
        const out: Array<{ key: number; id: number }> = [];
        buf.release(now, (x) => out.push(x));
        const want = items.map((x, i) => ({ ...x, i })).filter((x) => x.key <= now - 100).sort((a, b) => a.key - b.key || a.i - b.i);
        expect(out).toEqual(want.map(({ key, id }) => ({ key, id })));
        expect(buf.size).toBe(items.length - out.length);
        const rest: number[] = [];
        buf.releaseAll((x) => rest.push(x.key));
        expect(rest).toEqual([...rest].sort((a, b) => a - b));
        expect(buf.size).toBe(0);
      }),
    );
  });
});

describe('EventTimeKeys', () => {
  it('orders kernel events of one host by ts, whatever ms their wall-clock time was truncated to', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 50n }), fc.array(fc.integer({ min: 0, max: 3_000_000 }), { minLength: 2, maxLength: 300 }), (start, gaps) => {
        const clock = new KernelClock();
        const keys = new EventTimeKeys();
        let ts = start;
        const out: number[] = [];
        for (const gap of gaps) {
          ts += BigInt(gap);
          out.push(keys.key({ ts, time: clock.toDate(ts), host: 'h' }));
        }
        for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
      }),
    );
  });

  it('stays within a ms of the events\' wall-clock time, per host, and re-anchors after a clock step', () => {
    const keys = new EventTimeKeys();
    const a = keys.key({ ts: 5_000_000_000n, time: new Date(1_000_000), host: 'a' });
    const b = keys.key({ ts: 9_000_000_000n, time: new Date(1_000_000), host: 'b' });
    expect(a).toBe(1_000_000);
    expect(b).toBe(1_000_000);
    expect(keys.key({ ts: 5_000_500_000n, time: new Date(1_000_000), host: 'a' })).toBeCloseTo(1_000_000.5, 6);
    // host a's wall clock stepped 10 s forward
    expect(keys.key({ ts: 5_001_000_000n, time: new Date(1_010_001), host: 'a' })).toBe(1_010_001);
    expect(keys.key({ ts: 0n, time: new Date(42), host: 'a' })).toBe(42);
  });
});
