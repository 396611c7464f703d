import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { eventFromJSON, silentLogger, type IEvent } from '@boxwatch/core';
import { KafkaSink, topicsFor, messageKey, familyOf, EVENT_FAMILIES, type Compression, type MessageFormat } from '@boxwatch/sink-kafka';
import { waitForLeaders } from '../../src/sink.js';
import { BROKER, consumeAll, makeEvent, rawKafka, startBroker, uniquePrefix, deleteTestTopics } from './helpers.js';

beforeAll(() => startBroker());
afterAll(() => deleteTestTopics());

describe('KafkaSink against a real broker', () => {
  it('creates one topic per family with the configured partitions', async () => {
    const prefix = uniquePrefix('topics');
    const sink = new KafkaSink({ brokers: BROKER, topicPrefix: prefix, partitions: 3, logger: silentLogger });
    await sink.start();
    await sink.close();
    const admin = rawKafka().admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: topicsFor(prefix) });
    await admin.disconnect();
    expect(meta.topics.map((t) => t.name).sort()).toEqual(
      ['alerts', 'enforce', 'file', 'net', 'process', 'resource', 'syscall'].map((s) => `${prefix}.${s}`).sort(),
    );
    for (const t of meta.topics) expect(t.partitions).toHaveLength(3);
  });

  it('close() during start() wins: start resolves, later writes are counted as dropped', async () => {
    const sink = new KafkaSink({ brokers: BROKER, topicPrefix: uniquePrefix('closestart'), logger: silentLogger });
    const starting = sink.start();
    await sink.close();
    await starting;
    sink.write(makeEvent(0, new Map()));
    expect(sink.stats()).toMatchObject({ received: 1, dropped: 1, delivered: 0, queued: 0 });
    await expect(sink.start()).rejects.toMatchObject({ code: 'ERR_STATE' });
  });

  it("bounds each partition's share of a request by maxPartitionBytes, not the whole request (a topic with a 100 kB message limit)", async () => {
    const prefix = uniquePrefix('partition-bytes');
    const topic = `${prefix}.file`;
    const admin = rawKafka().admin();
    await admin.connect();
    // Not kafkajs's waitForLeaders: it gives up on the UNKNOWN_TOPIC_OR_PARTITION a broker answers
    // while the new topic propagates (seen right after a fresh broker start); the sink's own wait retries it.
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 4, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '100000' }] }] });
    await waitForLeaders(admin, [topic], 30_000);
    await admin.disconnect();
    // file.open events only (every 6th of the stream), from 33 keys over 4 partitions.
    const seq = new Map<string, number>();
    const sent = Array.from({ length: 120_000 }, (_, n) => makeEvent(n, seq)).filter((e) => e.type === 'file.open');
    const maxPartitionBytes = 90_000;
    const sink = new KafkaSink({ brokers: BROKER, topicPrefix: prefix, queueSize: sent.length, maxPartitionBytes, maxMessageBytes: 16_384, logger: silentLogger });
    await sink.start();
    for (const e of sent) sink.write(e);
    await sink.flush();
    const stats = sink.stats();
    await sink.close();
    // A partition's batch over the topic's limit would be refused (MESSAGE_TOO_LARGE) and never delivered.
    expect(stats).toMatchObject({ received: sent.length, delivered: sent.length, dropped: 0, errors: 0 });
    const bytes = sent.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.toJSON())), 0);
    // Requests carried more than maxPartitionBytes each (spread over the partitions): fewer than a whole-request bound allows.
    expect(stats.batches).toBeLessThan(bytes / 2 / maxPartitionBytes);
    const got = await consumeAll([topic], sent.length);
    expect(got).toHaveLength(sent.length);
    expect(new Set(got.map((r) => r.json.n)).size).toBe(sent.length);
  });

  it.each<[MessageFormat, Compression]>([
    ['batch', 'none'],
    ['single', 'none'],
    ['batch', 'gzip'],
    ['single', 'gzip'],
  ])('delivers 100,000 events (%s form, compression %s): count, per-container order and every field round-trip', async (format, compression) => {
    const N = 100_000;
    const prefix = uniquePrefix(`roundtrip-${format}-${compression}`);
    const maxEventsPerMessage = 200;
    const sink = new KafkaSink({ brokers: BROKER, topicPrefix: prefix, partitions: 6, queueSize: N, messageFormat: format, maxEventsPerMessage, compression, logger: silentLogger });
    // The sink registered its gzip codec; count what goes through it (kafkajs calls it per partition batch).
    const codecs = kafkajs.CompressionCodecs as unknown as Record<number, () => { compress: (e: unknown) => Promise<Buffer>; decompress: (b: Buffer) => Promise<Buffer> }>;
    const installed = codecs[kafkajs.CompressionTypes.GZIP]!;
    let compressed = 0;
    codecs[kafkajs.CompressionTypes.GZIP] = () => {
      const codec = installed();
      return { compress: (e) => (compressed++, codec.compress(e)), decompress: codec.decompress };
    };
    const seq = new Map<string, number>();
    const sent: IEvent[] = [];
    try {
      await sink.start();
      for (let n = 0; n < N; n++) {
        const ev = makeEvent(n, seq);
        sent.push(ev);
        sink.write(ev);
      }
      await sink.flush();
    } finally {
      codecs[kafkajs.CompressionTypes.GZIP] = installed;
    }
    const stats = sink.stats();
    await sink.close();
    expect(stats).toMatchObject({ received: N, delivered: N, dropped: 0, queued: 0, errors: 0 });
    if (compression === 'gzip') expect(compressed).toBeGreaterThanOrEqual(stats.batches);
    else expect(compressed).toBe(0);

    const got = await consumeAll(topicsFor(prefix, EVENT_FAMILIES), N);
    expect(got).toHaveLength(N);
    const messages = new Set(got.map((r) => `${r.topic}/${r.partition}/${r.offset}`)).size;
    expect(stats.messages).toBe(messages);
    if (format === 'single') expect(messages).toBe(N);
    else {
      // Many events per message (the point of the batch form), never more than the bound.
      expect(messages).toBeLessThan(N / 20);
      expect(Math.max(...got.map((r) => r.inMessage))).toBeLessThanOrEqual(maxEventsPerMessage);
    }

    // Per (host, container) key: one partition, and seq 0,1,2,... in order.
    const partitionOfKey = new Map<string, string>();
    const nextSeq = new Map<string, number>();
    for (const r of got) {
      const where = `${r.topic}/${r.partition}`;
      const family = `${r.key}@${r.topic}`;
      expect(partitionOfKey.get(family) ?? where).toBe(where);
      partitionOfKey.set(family, where);
      const expectedSeq = nextSeq.get(family);
      if (expectedSeq !== undefined) expect(r.json.seq as number).toBeGreaterThan(expectedSeq);
      nextSeq.set(family, r.json.seq as number);
    }
    // Every field: the consumed JSON equals what the event serialised to, and decodes back to an event
    // whose JSON is identical again (header bigints, Dates, nested objects, unicode).
    const byN = new Map(got.map((r) => [r.json.n as number, r]));
    expect(byN.size).toBe(N);
    for (const ev of sent) {
      const r = byN.get((ev as unknown as { n: number }).n)!;
      const json = ev.toJSON();
      expect(r.json).toEqual(json);
      expect(r.key).toBe(messageKey(ev));
      expect(r.headers).toEqual(
        format === 'single' ? { type: ev.type, host: ev.host } : { type: familyOf(ev.type), host: ev.host, events: String(r.inMessage) },
      );
      expect(r.topic).toBe(`${prefix}.${ev.type === 'alert' ? 'alerts' : ev.type.split('.')[0]}`);
      const back = eventFromJSON(r.json as never);
      expect(back.toJSON()).toEqual(json);
      expect(back.ts).toBe(ev.ts);
      expect(back.cgroupId).toBe(ev.cgroupId);
      expect(back.time.getTime()).toBe(ev.time.getTime());
    }
  });
});
