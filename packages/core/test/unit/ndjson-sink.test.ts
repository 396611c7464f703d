import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvent, eventText, NdjsonSink, stringifyEvent, type EventHeader } from '@boxwatch/core';

const header: EventHeader = { time: new Date('2026-11-28T10:00:00.000Z'), ts: 1n, host: 'h', container: null, cgroupId: 0n, pid: 1, tid: 1, comm: 'sh' };
const ev = (n: number) => createEvent('t.n', header, { n, pad: 'x'.repeat(100) });

describe('NdjsonSink', () => {
  it('writes every line, whole and in order, across chunk boundaries', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const sink = new NdjsonSink({ stream: out });
    const N = 5000; // ~700 KiB: several 64 KiB chunks plus a partial one at the end of the turn
    for (let i = 0; i < N; i++) sink.write(ev(i));
    await sink.flush();
    await new Promise((r) => setImmediate(r));
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).n)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(sink.stats()).toMatchObject({ received: N, delivered: N, dropped: 0 });
  });

  it('hands lines written in one turn to the stream by the next turn without an explicit flush', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = new NdjsonSink({ stream: out });
    sink.write(ev(1));
    sink.write(ev(2));
    await new Promise((r) => setTimeout(r, 10));
    expect(chunks.join('').trim().split('\n')).toHaveLength(2);
  });

  it('drops and counts what exceeds its bound behind a stalled reader, and everything after the stream is destroyed', async () => {
    // A stream that accepts writes but never completes them: its buffered length only grows.
    const stalled = new Writable({ highWaterMark: 1024, write: () => {} });
    const sink = new NdjsonSink({ stream: stalled, maxBufferedBytes: 200_000 });
    const N = 20_000;
    for (let i = 0; i < N; i++) sink.write(ev(i));
    await new Promise((r) => setImmediate(r));
    const s = sink.stats();
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.delivered + s.dropped).toBe(N);
    expect(s.delivered * 120).toBeLessThan(200_000 + 70_000); // at most the bound plus one chunk
    stalled.destroy();
    sink.write(ev(N));
    expect(sink.stats()).toMatchObject({ received: N + 1, dropped: s.dropped + 1 });
  });

  it('writes exactly the UTF-8 bytes of JSON.stringify per line, for ASCII and non-ASCII lines in one chunk', async () => {
    // Latin-1 range, BMP, astral, a lone surrogate, control characters, in values, keys, comm, host, container.
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('é', '€', '😀', '\ud800', 'a\u0000"\\'));
    const event = fc.record({ value: text, key: fc.oneof(fc.constant('v'), text), comm: fc.oneof(fc.constant('sh'), text), host: fc.oneof(fc.constant('h'), text), name: fc.oneof(fc.constant('web'), text) });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 20 }), async (specs) => {
        // Containers from a small pool, so later events take the cached container text.
        const pool = specs.slice(0, 3).map((x, i) => ({ id: String(i).repeat(64), name: x.name }));
        const events = specs.map((x, i) =>
          createEvent('t.u', { ...header, comm: x.comm, host: x.host, container: pool[i % pool.length]! }, { n: i, [x.key === 'n' ? 'v' : x.key]: x.value }),
        );
        const out = new PassThrough();
        const chunks: Buffer[] = [];
        out.on('data', (c: Buffer) => chunks.push(c));
        const sink = new NdjsonSink({ stream: out });
        for (const e of events) sink.write(e);
        await sink.flush();
        await new Promise((r) => setImmediate(r));
        expect(Buffer.concat(chunks).equals(Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('eventText', () => {
  it('is stringifyEvent\'s text, says ASCII only of ASCII text, and says it of events made of ASCII', () => {
    const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), fc.oneof(fc.string(), fc.string({ unit: 'binary' })), fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (value, comm, name) => {
        const container = { id: 'd'.repeat(64), name };
        const e = createEvent('t.u', { ...header, comm, container }, { value, list: [value, 1], nested: { value } });
        const t = eventText(e);
        expect(t.text).toBe(stringifyEvent(e));
        if (t.ascii) expect(isAscii(t.text)).toBe(true);
        if (isAscii(value) && isAscii(comm) && isAscii(name)) expect(t.ascii).toBe(true);
        // Again, now from the cached container text.
        expect(eventText(e)).toEqual(t);
      }),
      { numRuns: 1000 },
    );
  });
});
