import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '@boxwatch/core';

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
