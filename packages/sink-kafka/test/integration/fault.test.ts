import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@boxwatch/core';
import { KafkaSink, topicsFor } from '@boxwatch/sink-kafka';
import { BROKER, consumeAll, makeEvent, startBroker, stopBroker, uniquePrefix, waitFor, deleteTestTopics } from './helpers.js';

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
    for (; n < 5_000; n++) sink.write(makeEvent(n, seq));
    // Mid-stream: the first events may still be in flight when the broker goes down.
    stopBroker();
    const outage = n + 10_000;
    for (; n < outage; n++) sink.write(makeEvent(n, seq));
    // With the broker down nothing can be acknowledged: the sink holds the events.
    expect(await waitFor(() => sink.stats().errors > 0)).toBe(true);
    expect(sink.stats().dropped).toBe(0);
    expect(sink.stats().queued).toBeGreaterThan(0);
    startBroker();
    await sink.flush();
    const stats = sink.stats();
    await sink.close();
    expect(stats).toMatchObject({ received: 15_000, delivered: 15_000, dropped: 0, queued: 0 });

    const got = await consumeAll(topicsFor(prefix), 15_000);
    const ns = got.map((r) => r.json.n as number);
    // Idempotent producer: a resend after the lost acknowledgement is not written twice.
    expect(new Set(ns).size).toBe(15_000);
    expect(ns).toHaveLength(15_000);
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
