import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type IEvent } from '@boxwatch/core';
import { KafkaSink, KafkaSource, topicsFor, type KafkaSinkOptions } from '@boxwatch/sink-kafka';
import { BROKER, makeEvent, rawKafka, startBroker, uniquePrefix, waitFor, deleteTestTopics } from './helpers.js';

beforeAll(() => startBroker());
afterAll(() => deleteTestTopics());

const PARTITIONS = 4;

async function sinkWith(prefix: string, events: IEvent[], options: Partial<KafkaSinkOptions> = {}): Promise<void> {
  const sink = new KafkaSink({ brokers: BROKER, topicPrefix: prefix, partitions: PARTITIONS, logger: silentLogger, ...options });
  await sink.start();
  for (const ev of events) sink.write(ev);
  await sink.close();
  expect(sink.stats()).toMatchObject({ delivered: events.length, dropped: 0 });
}

function events(count: number, from = 0): IEvent[] {
  const seq = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => makeEvent(from + i, seq));
}

describe('KafkaSource (consumer group)', () => {
  it('two consumers in one group split the partitions and together see every event once', async () => {
    const prefix = uniquePrefix('group');
    // Create the topics first so both members are assigned partitions before any event exists.
    await sinkWith(prefix, []);
    const groupId = `detectors-${prefix}`;
    const seen: Array<Array<{ n: number; topic: string; partition: number }>> = [[], []];
    const sources = [0, 1].map(
      (i) =>
        new KafkaSource({ brokers: BROKER, groupId, topicPrefix: prefix, fromBeginning: true, logger: silentLogger }),
    );
    await sources[0]!.start((ev, meta) => {
      seen[0]!.push({ n: (ev as unknown as { n: number }).n, topic: meta.topic, partition: meta.partition });
    });
    await sources[1]!.start(async (ev, meta) => {
      await Promise.resolve(); // an async handler is awaited like a sync one
      seen[1]!.push({ n: (ev as unknown as { n: number }).n, topic: meta.topic, partition: meta.partition });
    });
    const partitionsOf = (i: number) =>
      Object.entries(sources[i]!.stats().assignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`));
    const all = topicsFor(prefix).length * PARTITIONS;
    // Wait for the group to settle with both members holding partitions.
    expect(await waitFor(() => partitionsOf(0).length > 0 && partitionsOf(1).length > 0 && partitionsOf(0).length + partitionsOf(1).length === all)).toBe(true);

    const N = 20_000;
    await sinkWith(prefix, events(N));
    expect(await waitFor(() => seen[0]!.length + seen[1]!.length >= N, 90_000)).toBe(true);
    await Promise.all(sources.map((s) => s.stop()));

    const a = new Set(partitionsOf(0));
    const b = new Set(partitionsOf(1));
    expect([...a].filter((p) => b.has(p))).toEqual([]);
    // Each member saw only its own partitions, both got work, and together every event exactly once.
    const [as, bs] = [new Set(seen[0]!.map((s) => `${s.topic}/${s.partition}`)), new Set(seen[1]!.map((s) => `${s.topic}/${s.partition}`))];
    expect([...as].filter((p) => bs.has(p))).toEqual([]);
    expect(seen[0]!.length).toBeGreaterThan(0);
    expect(seen[1]!.length).toBeGreaterThan(0);
    const ns = [...seen[0]!, ...seen[1]!].map((s) => s.n);
    expect(ns).toHaveLength(N);
    expect(new Set(ns).size).toBe(N);
    expect(sources[0]!.stats().consumed + sources[1]!.stats().consumed).toBe(N);
  });

  it('reads gzip-compressed messages of both forms, mixed in one topic: exactly the events written, once, in order per container', async () => {
    const prefix = uniquePrefix('gzip');
    const all = events(12_000);
    // Alternate forms in slices, so the topics hold compressed batch and single messages interleaved.
    for (let i = 0; i < all.length; i += 3_000) {
      await sinkWith(prefix, all.slice(i, i + 3_000), { compression: 'gzip', messageFormat: (i / 3_000) % 2 === 0 ? 'batch' : 'single' });
    }
    const source = new KafkaSource({ brokers: BROKER, groupId: `detector-${prefix}`, topicPrefix: prefix, fromBeginning: true, logger: silentLogger });
    const got: Array<{ n: number; seq: number; key: string }> = [];
    await source.start((ev, meta) => {
      const e = ev as unknown as { n: number; seq: number };
      got.push({ n: e.n, seq: e.seq, key: `${meta.topic}/${meta.key}` });
    });
    expect(await waitFor(() => got.length >= all.length, 90_000)).toBe(true);
    // Nothing more arrives (no duplicates) while the source keeps reading a moment longer.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await source.stop();
    expect(source.stats()).toMatchObject({ consumed: all.length, decodeErrors: 0, handlerErrors: 0 });
    expect(got.map((g) => g.n).sort((a, b) => a - b)).toEqual(all.map((_, i) => i));
    // seq counts a container's events over all families: within one topic it only increases.
    const last = new Map<string, number>();
    for (const g of got) {
      expect(g.seq).toBeGreaterThan(last.get(g.key) ?? -1);
      last.set(g.key, g.seq);
    }
  });

  it('commits after processing: a restarted member resumes after what was handled, and decode errors are counted', async () => {
    const prefix = uniquePrefix('commit');
    await sinkWith(prefix, events(300));
    // A message that is not a boxwatch event, between valid ones.
    const producer = rawKafka().producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.file`, messages: [{ key: 'x', value: 'not json {' }, { key: 'y', value: '{"schema":99,"type":"file.open","time":"2020-01-01T00:00:00Z"}' }] });
    await producer.disconnect();

    const groupId = `detector-${prefix}`;
    const first = new KafkaSource({ brokers: BROKER, groupId, topicPrefix: prefix, fromBeginning: true, logger: silentLogger });
    const decodeErrors: string[] = [];
    const got1: number[] = [];
    await first.start({
      onBatch: async (evs) => {
        for (const ev of evs) got1.push((ev as unknown as { n: number }).n);
      },
      onDecodeError: (err) => decodeErrors.push(err.message),
    });
    expect(await waitFor(() => got1.length >= 300 && first.stats().decodeErrors >= 2)).toBe(true);
    await first.stop();
    expect(first.stats()).toMatchObject({ consumed: 300, decodeErrors: 2, handlerErrors: 0 });
    expect(decodeErrors.some((m) => m.includes('schema 99'))).toBe(true);

    // Same group again: the 300 handled events were committed, so only new ones arrive.
    await sinkWith(prefix, events(50, 300));
    const second = new KafkaSource({ brokers: BROKER, groupId, topicPrefix: prefix, fromBeginning: true, logger: silentLogger });
    const got2: number[] = [];
    let failedOnce = false;
    await second.start(async (ev) => {
      const n = (ev as unknown as { n: number }).n;
      // A handler failure is not committed: the event is delivered again.
      if (n === 320 && !failedOnce) {
        failedOnce = true;
        throw new Error('detector hiccup');
      }
      got2.push(n);
    });
    expect(await waitFor(() => new Set(got2).size >= 50)).toBe(true);
    await second.stop();
    expect(Math.min(...got2)).toBeGreaterThanOrEqual(300);
    expect(new Set(got2)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => 300 + i)));
    expect(second.stats().handlerErrors).toBe(1);
    expect(second.stats().decodeErrors).toBe(0);
  });
});
