import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvent, decodeHeader, EVENT_HEADER_LAYOUT as H, KernelClock, recordEvent, UNRESOLVED_CONTAINER, type ContainerInfo, type KnownContainer, type ContainerResolver, type TypedEvent } from '@boxwatch/core';

function resolver(lookup: (id: bigint) => KnownContainer | null): ContainerResolver {
  return { byCgroupId: lookup, find: () => null, list: () => [], details: () => null, byIp: () => null, cgroupIdOf: () => null, onChange: () => () => {} };
}

function writeHeader(v: DataView, off: number, h: { ts: bigint; cgroup: bigint; tgid: number; pid: number; flags: number; comm: string }): void {
  v.setBigUint64(off + H.offsets.ts_ns, h.ts, true);
  v.setBigUint64(off + H.offsets.cgroup_id, h.cgroup, true);
  v.setUint32(off + H.offsets.tgid, h.tgid, true);
  v.setUint32(off + H.offsets.pid, h.pid, true);
  v.setUint8(off + H.offsets.flags, h.flags);
  for (let i = 0; i < 16; i++) v.setUint8(off + H.offsets.comm + i, i < h.comm.length ? h.comm.charCodeAt(i) : 0);
}

// Arbitrary record headers, and a context whose resolver knows the even cgroup ids.
const commArb = fc.string({ maxLength: 15, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz:[]-_0123456789'.split('')) });
const headerArb = { ts: fc.bigInt({ min: 0n, max: 2n ** 63n }), cgroup: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), tgid: fc.nat(), pid: fc.nat(), host: fc.boolean(), comm: commArb };
// The cgroup decides first (a known container's cgroup wins over the host flag); an unknown cgroup is
// the host's for a host-flagged task, and an unresolved container for any other task.
const expectedContainer = (h: { host: boolean; cgroup: bigint }) => (h.cgroup % 2n === 0n ? { id: `c${h.cgroup}` } : h.host ? null : UNRESOLVED_CONTAINER);
const evenCgroupsKnown = () => ({ host: 'h', clock: new KernelClock(), containers: resolver((id) => (id % 2n === 0n ? { id: `c${id}` } : null)) });

describe('decodeHeader', () => {
  it('decodes every field of arbitrary headers, through the comm and cgroup caches', () => {
    const ctx = evenCgroupsKnown();
    const buf = new DataView(new ArrayBuffer(H.size));
    fc.assert(
      fc.property(
        fc.record(headerArb),
        (h) => {
          writeHeader(buf, 0, { ...h, flags: h.host ? 1 : 0 });
          const d = decodeHeader(buf, 0, ctx);
          expect(d.ts).toBe(h.ts);
          expect(d.cgroupId).toBe(h.cgroup);
          expect(d.pid).toBe(h.tgid);
          expect(d.tid).toBe(h.pid);
          expect(d.comm).toBe(h.comm);
          expect(d.container).toEqual(expectedContainer(h));
        },
      ),
    );
  });

  it('converts kernel time to wall-clock time within a millisecond', () => {
    const clock = new KernelClock();
    const mono = process.hrtime.bigint();
    const wall = Date.now();
    expect(Math.abs(clock.toDate(mono).getTime() - wall)).toBeLessThanOrEqual(2);
    const buf = new DataView(new ArrayBuffer(H.size));
    writeHeader(buf, 0, { ts: mono, cgroup: 1n, tgid: 1, pid: 1, flags: 1, comm: 'x' });
    expect(Math.abs(decodeHeader(buf, 0, { host: 'h', clock, containers: resolver(() => null) }).time.getTime() - wall)).toBeLessThanOrEqual(2);
  });

  it('shares one Date between timestamps of the same millisecond and no further', () => {
    const clock = new KernelClock();
    const t = process.hrtime.bigint();
    const ms = clock.msFromParts(Number(t & 0xffffffffn), Number(t >> 32n));
    // Move t to 10 µs past a wall-clock millisecond boundary, then stay inside or step out of it.
    const start = t + BigInt(Math.ceil((Math.ceil(ms) - ms) * 1e6)) + 10_000n;
    const a = clock.toDate(start);
    const b = clock.toDate(start + 900_000n);
    const c = clock.toDate(start + 1_000_000n);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(c.getTime() - a.getTime()).toBe(1);
    const again = clock.toDate(start + 5_000n); // back to the earlier millisecond: a fresh Date, same value
    expect(again).not.toBe(c);
    expect(again.getTime()).toBe(a.getTime());
  });

  it('gives every timestamp the Date of its own millisecond, through the shared-Date window', () => {
    const t0 = process.hrtime.bigint();
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -3_000_000n, max: 3_000_000n }), { minLength: 1, maxLength: 50 }), (deltas) => {
        // A fresh clock per run: its offset is refreshed only after 4,096 conversions, so the
        // reference below and dateFromParts use the same offset.
        const clock = new KernelClock();
        for (const d of deltas) {
          const t = t0 + d;
          const lo = Number(t & 0xffffffffn);
          const hi = Number(t >> 32n);
          // The reference: the conversion without the window (msFromParts), truncated to ms.
          expect(clock.dateFromParts(lo, hi).getTime()).toBe(Math.trunc(clock.msFromParts(lo, hi)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives timestamps within a microsecond of a millisecond edge the Date of their own millisecond, whatever window came before', () => {
    const parts = (t: bigint): [number, number] => [Number(t & 0xffffffffn), Number(t >> 32n)];
    fc.assert(
      fc.property(fc.integer({ min: -1500, max: 1500 }), fc.boolean(), (jitter, fromBelow) => {
        const clock = new KernelClock();
        const t0 = process.hrtime.bigint();
        const ms0 = clock.msFromParts(...parts(t0));
        // Where msFromParts moves to the next millisecond (to within its rounding), near t0.
        const edge = t0 + BigInt(Math.ceil((Math.ceil(ms0) - ms0) * 1e6));
        // A record in the middle of the millisecond below or above sets the shared-Date window.
        clock.dateFromParts(...parts(fromBelow ? edge - 500_000n : edge + 500_000n));
        const t = parts(edge + BigInt(jitter));
        expect(clock.dateFromParts(...t).getTime()).toBe(Math.trunc(clock.msFromParts(...t)));
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes the same cgroup id through two contexts with their own resolvers', () => {
    const a = { host: 'a', clock: new KernelClock(), containers: resolver(() => ({ id: 'from-a' })) };
    const b = { host: 'b', clock: new KernelClock(), containers: resolver(() => ({ id: 'from-b' })) };
    const buf = new DataView(new ArrayBuffer(H.size));
    writeHeader(buf, 0, { ts: 1n, cgroup: 5n, tgid: 1, pid: 1, flags: 0, comm: 'sh' });
    for (let i = 0; i < 3; i++) {
      expect(decodeHeader(buf, 0, a).container).toEqual({ id: 'from-a' });
      expect(decodeHeader(buf, 0, b).container).toEqual({ id: 'from-b' });
    }
  });

  it('picks up a container that becomes known while records from it keep arriving', () => {
    let known = false;
    const ctx = { host: 'h', clock: new KernelClock(), containers: resolver(() => (known ? { id: 'late' } : null)) };
    const buf = new DataView(new ArrayBuffer(H.size));
    writeHeader(buf, 0, { ts: 1n, cgroup: 77n, tgid: 1, pid: 1, flags: 0, comm: 'sh' });
    expect(decodeHeader(buf, 0, ctx).container).toBe(UNRESOLVED_CONTAINER);
    known = true;
    let seen: ContainerInfo | null = null;
    for (let i = 0; i < 2048 && (seen === null || seen.id === null); i++) seen = decodeHeader(buf, 0, ctx).container;
    expect(seen).toEqual({ id: 'late' });
  });
});

describe('recordEvent', () => {
  type Probe = TypedEvent<'test.probe', { seq: number; name: string }>;

  it('builds the event createEvent(type, decodeHeader(...), fields) builds: same values, same keys in the same order, same JSON', () => {
    const ctx = evenCgroupsKnown();
    const buf = new DataView(new ArrayBuffer(H.size));
    fc.assert(
      fc.property(
        fc.record({ ...headerArb, seq: fc.nat(), name: fc.string() }),
        (h) => {
          writeHeader(buf, 0, { ...h, flags: h.host ? 1 : 0 });
          const fast = recordEvent<Probe>('test.probe', buf, 0, ctx);
          fast.seq = h.seq;
          fast.name = h.name;
          const reference = createEvent('test.probe', decodeHeader(buf, 0, ctx), { seq: h.seq, name: h.name });
          expect(Object.keys(fast)).toEqual(Object.keys(reference));
          expect(fast).toEqual(reference);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(reference));
          expect(fast.ts).toBe(h.ts);
          expect(fast.container).toEqual(expectedContainer(h));
        },
      ),
    );
  });
});
