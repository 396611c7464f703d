import { describe, expect, it } from 'vitest';
import { createEvent, type ContainerInfo, type IEvent } from '@boxwatch/core';
import { BATCH_SCHEMA, decodeValue } from '@boxwatch/sink-kafka';
import { EventQueue, type Chunk, type MessageLimits } from '../../src/queue.js';
import { BATCH_HEAD, batchElementJSON, batchTail } from '../../src/wire.js';

const c1: ContainerInfo = { id: 'a'.repeat(64), name: 'web', labels: { 'ünï': '✓ "q"' } };
const c2: ContainerInfo = { id: 'b'.repeat(64) };

function ev(n: number, container: ContainerInfo | null, type = 'file.open', host = 'h1'): IEvent {
  return createEvent(type, { time: new Date(1_700_000_000_000 + n), ts: BigInt(n), host, container, cgroupId: 7n, pid: n, tid: n, comm: 'sh' }, { n, path: `/p/${n} ✓` });
}

function queue(limits: Partial<MessageLimits> = {}, capacity = 1_000_000): EventQueue {
  return new EventQueue(capacity, { format: 'batch', maxEvents: 1000, maxBytes: 1 << 20, ...limits }, BATCH_HEAD, batchTail);
}

const keyOf = (e: IEvent) => `${e.host}/${e.container?.id ?? 'host'}`;

function push(q: EventQueue, e: IEvent, format: 'batch' | 'single' = 'batch'): boolean {
  const json = format === 'batch' ? batchElementJSON(e) : JSON.stringify(e.toJSON());
  return q.push('t.file', keyOf(e), e.type, e.host, e.container, 'file', json);
}

/** Events of chunks, decoded with the package decoder, in chunk order. */
function decodeChunks(chunks: Chunk[]): Array<{ key: string; n: number; json: unknown; headers: Record<string, string> }> {
  return chunks.flatMap((c) =>
    decodeValue(Buffer.from(c.value)).items.map((e) => {
      if (e instanceof Error) throw e;
      return { key: c.key, n: (e as unknown as { n: number }).n, json: e.toJSON(), headers: c.headers };
    }),
  );
}

describe('EventQueue (batch form)', () => {
  it('packs events of one key into one message, in order, and they decode to the same events', () => {
    const q = queue();
    const sent = [ev(0, c1), ev(1, c2), ev(2, c1), ev(3, null), ev(4, c1, 'file.other'), ev(5, c2)];
    for (const e of sent) expect(push(q, e)).toBe(true);
    expect(q.length).toBe(6);
    const chunks = q.take(10_000);
    expect(chunks.map((c) => [c.key, c.events])).toEqual([
      [keyOf(sent[0]!), 3],
      [keyOf(sent[1]!), 2],
      ['h1/host', 1],
    ]);
    expect(chunks[0]!.headers).toEqual({ type: 'file', host: 'h1', events: '3' });
    const got = decodeChunks(chunks);
    expect(got.map((g) => g.n)).toEqual([0, 2, 4, 1, 5, 3]);
    for (const g of got) expect(g.json).toEqual(sent[g.n]!.toJSON());
    // The value is the documented envelope.
    const raw = JSON.parse(chunks[0]!.value.toString()) as Record<string, unknown>;
    expect(raw).toMatchObject({ schema: BATCH_SCHEMA, host: 'h1', container: c1 });
    expect((raw.events as unknown[]).length).toBe(3);
    expect(raw.events).toEqual([0, 2, 4].map((n) => expect.not.objectContaining({ container: expect.anything() })));
  });

  it('bounds a message by events and by bytes; an event larger than the bound goes alone', () => {
    const q = queue({ maxEvents: 4 });
    for (let n = 0; n < 10; n++) push(q, ev(n, c1));
    expect(q.take(10_000).map((c) => c.events)).toEqual([4, 4, 2]);

    const one = Buffer.byteLength(batchElementJSON(ev(0, c1)));
    const b = queue({ maxBytes: 3 * one + 2 });
    for (let n = 0; n < 7; n++) push(b, ev(n, c1));
    const chunks = b.take(10_000);
    expect(chunks.map((c) => c.events)).toEqual([3, 3, 1]);
    expect(decodeChunks(chunks).map((g) => g.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);

    const tiny = queue({ maxBytes: 10 });
    push(tiny, ev(0, c1));
    push(tiny, ev(1, c1));
    expect(tiny.take(10).map((c) => c.events)).toEqual([1, 1]);
  });

  it('starts a new message when the container object changes (the envelope carries one)', () => {
    const q = queue();
    const filledIn = { ...c1, name: 'renamed' };
    push(q, ev(0, c1));
    push(q, ev(1, filledIn));
    push(q, ev(2, c1));
    const chunks = q.take(100);
    expect(chunks.map((c) => c.events)).toEqual([1, 1, 1]);
    expect(decodeChunks(chunks).map((g) => (g.json as { container: ContainerInfo }).container.name)).toEqual(['web', 'renamed', 'web']);
  });

  it('take() returns whole messages up to the event budget and leaves them queued until shift()', () => {
    const q = queue({ maxEvents: 3 });
    for (let n = 0; n < 8; n++) push(q, ev(n, c1));
    const first = q.take(5);
    expect(first.map((c) => c.events)).toEqual([3]);
    expect(q.take(5)).toEqual(first); // a retry sees exactly the same messages
    expect(q.take(6).map((c) => c.events)).toEqual([3, 3]);
    q.shift(1, 3);
    expect(q.length).toBe(5);
    push(q, ev(8, c1));
    const rest = q.take(100);
    expect(decodeChunks(rest).map((g) => g.n)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(q.take(1).map((c) => c.events)).toEqual([3]); // at least one message even over the budget
  });

  it('take() also stops at the byte budget of a produce request', () => {
    const q = queue({ maxEvents: 2 });
    for (let n = 0; n < 8; n++) push(q, ev(n, c1));
    const one = q.take(2)[0]!;
    const size = one.value.length + one.key.length + 64;
    expect(q.take(100, 2 * size + 10).map((c) => c.events)).toEqual([2, 2]);
    expect(q.take(100, 1).map((c) => c.events)).toEqual([2]); // at least one message
    expect(q.take(100).map((c) => c.events)).toEqual([2, 2, 2, 2]);
  });

  it('take() bounds the bytes per partition: known partitions each, unknown ones against all of their topic', () => {
    const q = queue({ maxEvents: 2 });
    // Alternating keys: messages c2, c1, c2, c1, ... (each key's pair sealed in turn), all the same size.
    for (let n = 0; n < 16; n++) push(q, ev(n, n % 2 ? c1 : c2));
    // Messages of c1 carry a longer container object: bound by the largest (less than one message apart).
    const size = Math.max(...q.take(100).map((c) => c.value.length + c.key.length + 64));
    const [k1, k2] = [keyOf(ev(0, c1)), keyOf(ev(0, c2))];
    const bound = (map: Record<string, number>, messages: number) => ({ of: (_t: string, key: string) => map[key], maxBytes: messages * size + 10 });
    // Both keys on their own partitions: 2 messages per partition fit, so 4 messages.
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({ [k1]: 0, [k2]: 1 }, 2))).toHaveLength(4);
    // Both on one partition: 2 messages.
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({ [k1]: 3, [k2]: 3 }, 2))).toHaveLength(2);
    // Partitions unknown: they may share one, so 2 messages; one known, one not: still 2 (the unknown may join it).
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({}, 2))).toHaveLength(2);
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({ [k1]: 0 }, 2))).toHaveLength(2);
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({ [k1]: 0 }, 3))).toHaveLength(3);
    // Always at least one message; the request bound still applies; order is never skipped over.
    expect(q.take(100, Number.MAX_SAFE_INTEGER, bound({ [k1]: 0, [k2]: 1 }, 0))).toHaveLength(1);
    expect(q.take(100, 3 * size + 10, bound({ [k1]: 0, [k2]: 1 }, 100))).toHaveLength(3);
    // Other topics are bounded separately.
    const q2 = queue({ maxEvents: 2 });
    for (let n = 0; n < 8; n++) {
      const e = ev(n, c1);
      q2.push(n % 2 ? 't.a' : 't.b', keyOf(e), e.type, e.host, e.container, 'file', batchElementJSON(e));
    }
    expect(q2.take(100, Number.MAX_SAFE_INTEGER, bound({}, 1))).toHaveLength(2);
  });

  it('counts events against the capacity, refuses beyond it, and clear() returns what it held', () => {
    const q = queue({ maxEvents: 2 }, 5);
    const accepted = Array.from({ length: 8 }, (_, n) => push(q, ev(n, n % 2 ? c1 : c2)));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    expect(q.full).toBe(true);
    q.take(2);
    expect(q.length).toBe(5);
    expect(q.clear()).toBe(5);
    expect(q.length).toBe(0);
    expect(q.take(10)).toEqual([]);
  });
});

describe('EventQueue (single form)', () => {
  it('one message per event with the event type header', () => {
    const q = new EventQueue(10, { format: 'single', maxEvents: 1000, maxBytes: 1 << 20 }, BATCH_HEAD, batchTail);
    const sent = [ev(0, c1), ev(1, c1, 'file.other')];
    for (const e of sent) push(q, e, 'single');
    const chunks = q.take(100);
    expect(chunks.map((c) => c.headers)).toEqual([{ type: 'file.open', host: 'h1' }, { type: 'file.other', host: 'h1' }]);
    expect(chunks.map((c) => JSON.parse(String(c.value)))).toEqual(sent.map((e) => e.toJSON()));
    expect(decodeChunks(chunks).map((g) => g.n)).toEqual([0, 1]);
  });
});

describe('decodeValue', () => {
  it('reads the single form and rejects what is not an event', () => {
    const e = ev(1, c1);
    const d = decodeValue(Buffer.from(JSON.stringify(e.toJSON())));
    expect(d.batch).toBe(false);
    expect((d.items[0] as IEvent).toJSON()).toEqual(e.toJSON());
    expect(() => decodeValue(Buffer.from('not json'))).toThrow();
    expect(() => decodeValue(Buffer.from('[1,2]'))).toThrow(/not a JSON object/);
    expect(() => decodeValue(null)).toThrow(/empty/);
    expect(() => decodeValue(Buffer.from('{"schema":99,"type":"x","time":"2020-01-01T00:00:00Z"}'))).toThrow(/schema 99/);
    expect(() => decodeValue(Buffer.from('{"schema":3,"events":[],"host":"h"}'))).toThrow(/batch schema 3/);
  });

  it('a bad element of a batch becomes an Error in its place; its neighbours still decode', () => {
    const good = batchElementJSON(ev(1, c2));
    const value = `${BATCH_HEAD}${good},{"schema":1},7,{"schema":9,"type":"x","time":"2020-01-01T00:00:00Z"},${good}${batchTail('h1', c2)}`;
    const d = decodeValue(Buffer.from(value));
    expect(d.batch).toBe(true);
    expect(d.items.map((i) => (i instanceof Error ? 'error' : 'event'))).toEqual(['event', 'error', 'error', 'error', 'event']);
    expect((d.items[4] as IEvent).container).toEqual(c2);
    expect((d.items[4] as IEvent).host).toBe('h1');
  });
});
