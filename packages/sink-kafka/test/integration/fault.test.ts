import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@boxwatch/core';
import { KafkaSink, topicsFor } from '@boxwatch/sink-kafka';
import { BROKER, consumeAll, makeEvent, startBroker, stopBroker, stopBrokerAsync, uniquePrefix, waitFor, deleteTestTopics } from './helpers.js';

// These tests stop and restart the shared broker; integration files run one at a time
// (vitest.config.ts), and the broker is left running at the end.
beforeAll(() => startBroker());
afterAll(async () => {
  startBroker();
  await deleteTestTopics();
});

/** A sink that retries quickly, so recovery after the restart is prompt. */
function sinkFor(prefix: string, queueSize: number): KafkaSink {
  return new KafkaSink({
    brokers: BROKER,
    topicPrefix: prefix,
    partitions: 4,
    queueSize,
    retryInitialMs: 50,
    retryMaxMs: 500,
    connectionTimeoutMs: 1000,
    logger: silentLogger,
  });
}

describe('KafkaSink when the broker goes away', () => {
  it('queues under the bound through a broker restart: all arrive once, nothing dropped', async () => {
    const prefix = uniquePrefix('outage');
    const sink = sinkFor(prefix, 50_000);
    await sink.start();
    const seq = new Map<string, number>();
    let n = 0;
    for (; n < 2_000; n++) sink.write(makeEvent(n, seq));
    await sink.flush();
    // Mid-stream: keep writing (and the sink keeps sending) while the broker shuts down, so produce
    // requests are in flight when it goes away; their acknowledgements may be lost.
    let stopped = false;
    const stopping = stopBrokerAsync().finally(() => (stopped = true));
    // At most 20,000 while it stops, so the total stays under the queue bound however slow the stop is.
    while (!stopped && n < 22_000) {
      for (let i = 0; i < 50; i++, n++) sink.write(makeEvent(n, seq));
      await new Promise((r) => setTimeout(r, 5));
    }
    await stopping;
    const beforeOutage = n;
    // Then 10,000 more with the broker down.
    for (; n < beforeOutage + 10_000; n++) sink.write(makeEvent(n, seq));
    // With the broker down nothing can be acknowledged: the sink holds the events.
    expect(await waitFor(() => sink.stats().errors > 0)).toBe(true);
    expect(sink.stats().dropped).toBe(0);
    expect(sink.stats().queued).toBeGreaterThan(0);
    startBroker();
    await sink.flush();
    const stats = sink.stats();
    await sink.close();
    const total = n;
    expect(total).toBeGreaterThanOrEqual(12_000);
    expect(stats).toMatchObject({ received: total, delivered: total, dropped: 0, queued: 0 });

    const got = await consumeAll(topicsFor(prefix), total);
    const ns = got.map((r) => r.json.n as number);
    // Idempotent producer: a batch resent after its acknowledgement was lost is not written twice.
    expect(new Set(ns).size).toBe(total);
    expect(ns).toHaveLength(total);
    // And per container, still in order across the outage.
    const lastSeq = new Map<string, number>();
    for (const r of got) {
      const k = `${r.key}@${r.topic}`;
      expect(r.json.seq as number).toBeGreaterThan(lastSeq.get(k) ?? -1);
      lastSeq.set(k, r.json.seq as number);
    }
  });

  it('over the bound counts exactly the events that were not delivered', async () => {
    const prefix = uniquePrefix('overflow');
    const bound = 3_000;
    const sink = sinkFor(prefix, bound);
    await sink.start();
    const seq = new Map<string, number>();
    let n = 0;
    for (; n < 2_000; n++) sink.write(makeEvent(n, seq));
    await sink.flush();
    stopBroker();
    for (; n < 12_000; n++) sink.write(makeEvent(n, seq));
    // The queue keeps the oldest `bound` events; the 7,000 after them are dropped and counted.
    expect(sink.stats()).toMatchObject({ received: 12_000, delivered: 2_000, queued: bound, dropped: 7_000 });
    startBroker();
    await sink.flush();
    const stats = sink.stats();
    await sink.close();
    expect(stats).toMatchObject({ received: 12_000, delivered: 5_000, dropped: 7_000, queued: 0 });

    const got = await consumeAll(topicsFor(prefix), 5_000);
    const ns = new Set(got.map((r) => r.json.n as number));
    expect(got).toHaveLength(5_000);
    expect(stats.dropped).toBe(12_000 - got.length);
    // Exactly the events written before the queue filled arrived; none after it.
    for (let i = 0; i < 5_000; i++) expect(ns.has(i)).toBe(true);
  });

  it('close() with the broker down gives up after its timeout and counts the rest as dropped', async () => {
    const prefix = uniquePrefix('closedown');
    const sink = new KafkaSink({ brokers: BROKER, topicPrefix: prefix, queueSize: 1000, closeTimeoutMs: 500, retryMaxMs: 200, logger: silentLogger });
    await sink.start();
    stopBroker();
    const seq = new Map<string, number>();
    for (let n = 0; n < 100; n++) sink.write(makeEvent(n, seq));
    await sink.close();
    expect(sink.stats()).toMatchObject({ received: 100, delivered: 0, dropped: 100, queued: 0 });
    sink.write(makeEvent(100, seq));
    expect(sink.stats()).toMatchObject({ received: 101, dropped: 101 });
    startBroker();
  });
});
