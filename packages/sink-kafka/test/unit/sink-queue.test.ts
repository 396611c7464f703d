import { describe, expect, it } from 'vitest';
import { createEvent, silentLogger } from '@boxwatch/core';
import { KafkaSink, familyOf, messageKey, topicForType } from '@boxwatch/sink-kafka';
import { BoundedQueue } from '../../src/queue.js';

const header = (container: { id: string } | null) => ({
  time: new Date(0), ts: 1n, host: 'h1', container, cgroupId: 2n, pid: 3, tid: 3, comm: 'sh',
});

describe('topics and keys', () => {
  it('maps event types to family topics', () => {
    expect(topicForType('bw', 'syscall.count')).toBe('bw.syscall');
    expect(topicForType('bw', 'net.flow')).toBe('bw.net');
    expect(topicForType('bw', 'alert')).toBe('bw.alerts');
    expect(topicForType('bw', 'resource.usage')).toBe('bw.resource');
    expect(topicForType('bw', 'mine.thing')).toBe('bw.mine');
    expect(familyOf('process.exec')).toBe('process');
  });

  it('keys by host and container id, host processes under "host"', () => {
    expect(messageKey(createEvent('file.open', header({ id: 'abc' }), {}))).toBe('h1/abc');
    expect(messageKey(createEvent('file.open', header(null), {}))).toBe('h1/host');
  });
});

describe('BoundedQueue', () => {
  it('keeps order, refuses beyond capacity, peeks without removing', () => {
    const q = new BoundedQueue<number>(3);
    expect([q.push(1), q.push(2), q.push(3), q.push(4)]).toEqual([true, true, true, false]);
    expect(q.peek(2)).toEqual([1, 2]);
    expect(q.length).toBe(3);
    q.shift(2);
    expect(q.push(5)).toBe(true);
    expect(q.peek(10)).toEqual([3, 5]);
    expect(q.clear()).toBe(2);
    expect(q.length).toBe(0);
  });

  it('stays correct across compaction', () => {
    const q = new BoundedQueue<number>(200_000);
    for (let i = 0; i < 150_000; i++) q.push(i);
    q.shift(100_000);
    expect(q.peek(1)).toEqual([100_000]);
    for (let i = 150_000; i < 160_000; i++) q.push(i);
    expect(q.length).toBe(60_000);
    expect(q.peek(60_000).at(-1)).toBe(159_999);
  });
});

describe('KafkaSink without a broker', () => {
  it('counts every event beyond the queue bound and everything left at close as dropped', async () => {
    // Never started (nothing listens there anyway): events wait in the queue.
    const sink = new KafkaSink({ brokers: '127.0.0.1:1', queueSize: 10, closeTimeoutMs: 0, logger: silentLogger });
    for (let i = 0; i < 15; i++) sink.write(createEvent('file.open', header({ id: 'c' }), { i }));
    expect(sink.stats()).toMatchObject({ received: 15, queued: 10, dropped: 5, delivered: 0 });
    await sink.close();
    await sink.close(); // idempotent
    expect(sink.stats()).toMatchObject({ received: 15, queued: 0, dropped: 15, delivered: 0 });
    sink.write(createEvent('file.open', header(null), {}));
    expect(sink.stats()).toMatchObject({ received: 16, dropped: 16 });
  });

  it('counts an event that cannot be serialised instead of throwing', () => {
    const sink = new KafkaSink({ brokers: '127.0.0.1:1', logger: silentLogger });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const ev = createEvent('file.open', header(null), { big: 1n });
    (ev as unknown as { toJSON: () => unknown }).toJSON = () => cyclic;
    expect(() => sink.write(ev)).not.toThrow();
    expect(sink.stats()).toMatchObject({ received: 1, dropped: 1, errors: 1, queued: 0 });
  });

  it('start() fails when no broker answers', async () => {
    const sink = new KafkaSink({ brokers: '127.0.0.1:1', connectionTimeoutMs: 500, logger: silentLogger });
    await expect(sink.start()).rejects.toThrow();
    await sink.close();
  });
});

describe('KafkaSource without a broker', () => {
  it('start() fails and leaves the source startable again', async () => {
    const { KafkaSource } = await import('@boxwatch/sink-kafka');
    const source = new KafkaSource({ brokers: '127.0.0.1:1', groupId: 'g', connectionTimeoutMs: 300, retries: 0, logger: silentLogger });
    await expect(source.start(() => {})).rejects.toThrow();
    expect(source.stats()).toMatchObject({ running: false, consumed: 0 });
    // A second try is allowed (not ERR_STATE): it fails again only because still no broker answers.
    const second = await source.start(() => {}).then(() => null, (err: unknown) => err as { code?: string; message: string });
    expect(second?.message).toMatch(/ECONNREFUSED|connect/i);
    expect(second?.code).toBeUndefined();
    await source.stop();
  });
});
