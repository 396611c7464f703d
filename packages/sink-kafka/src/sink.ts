import kafkajs, { type Admin, type ICustomPartitioner, type Kafka, type Producer } from 'kafkajs';
import { BoxwatchError, createLogger, stringifyEvent, type IEvent, type Logger, type Sink, type SinkStats } from '@boxwatch/core';
import { createKafka } from './connection.js';
import { installGzipCodec } from './gzip.js';
import { EventQueue, type Chunk } from './queue.js';
import { parseSinkOptions, type KafkaSinkConfig, type KafkaSinkOptions } from './sink-options.js';
import { EVENT_FAMILIES, familyOf, messageKey, topicForType, topicsFor } from './topics.js';
import { BATCH_HEAD, batchElementJSON, batchTail } from './wire.js';

// kafkajs is CommonJS and Node's ESM loader cannot see its named exports: import the default.
const { Partitioners } = kafkajs;

/** The head of the queue on its way to the broker, built once so every retry resends the same messages. */
interface InFlight {
  events: number;
  messages: number;
  topics: Array<{ topic: string; messages: Array<{ key: string; value: Buffer | string; headers: Record<string, string>; partition?: number }> }>;
}

export interface KafkaSinkStats extends SinkStats {
  /** Produce requests acknowledged by the broker. */
  batches: number;
  /** Kafka messages acknowledged (fewer than events in the `batch` message format). */
  messages: number;
  /** False while sends are failing (broker unreachable, leader moving, ...). */
  connected: boolean;
  /** Message of the most recent send failure, until the next success. */
  lastError?: string;
}

/**
 * Retries inside kafkajs (one send, one reconnect to the cluster). kafkajs nests its retriers (the
 * producer's around the cluster's connect), so its defaults keep a single send busy for tens of seconds
 * during an outage. Keep them short: the sink's own loop retries beyond that with its backoff, and can
 * be stopped between attempts.
 */
const INNER_RETRY = { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 };

/** Topic creation on start() is worth waiting for (a broker that just started is still settling). */
const ADMIN_RETRY = { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 };
const TOPIC_READY_TIMEOUT_MS = 30_000;

/** After close()'s timeout, how long a send already in flight gets to settle before close() returns. */
const IN_FLIGHT_GRACE_MS = 2000;

/** Errors after which the broker no longer knows this producer's id/sequence (e.g. its data was wiped). */
const PRODUCER_STATE_LOST = new Set(['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH']);

/**
 * Ships events to Kafka, one topic per event family, keyed by host + container.
 *
 * `write()` never blocks and never throws for delivery problems: it serialises the event into a bounded
 * queue. A single pump sends the head of the queue in batches (one produce request in flight, so order
 * per partition holds even across retries), removes a batch only once the broker acknowledged it, and
 * when sends fail keeps the batch and retries with exponential backoff. While the broker is away the
 * queue fills up to `queueSize`; every event beyond that is counted in `stats().dropped`. Invariant:
 * received = delivered + dropped + queued.
 */
export class KafkaSink implements Sink {
  readonly name = 'kafka';
  readonly config: KafkaSinkConfig;
  private readonly logger: Logger;
  private readonly kafka: Kafka;
  private producer: Producer;
  private readonly queue: EventQueue;

  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private pump: Promise<void> | null = null;
  private lingerTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private wakeBackoff: (() => void) | undefined;
  private aborting = false;
  private drainWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  private reportedDrop = false;
  /** close() has counted the queue as dropped while a send was still in flight. */
  private abandoned = false;
  private producerConnected = false;
  private readonly topicByType = new Map<string, { topic: string; family: string }>();
  /** Partition of each key (kafkajs's default partitioner, memoised): bounds and pins a request's partitions. */
  private readonly partitions = new PartitionMemo();
  private readonly batchForm: boolean;

  private received = 0;
  private delivered = 0;
  private dropped = 0;
  private errors = 0;
  private batches = 0;
  private messages = 0;
  private lastError: string | undefined;

  constructor(options: KafkaSinkOptions) {
    this.config = parseSinkOptions(options);
    this.logger = (this.config.logger ?? createLogger({ name: 'boxwatch' })).child({ sink: 'kafka' });
    this.kafka = createKafka(this.config, this.logger, INNER_RETRY);
    this.producer = this.createProducer();
    this.queue = new EventQueue(
      this.config.queueSize,
      { format: this.config.messageFormat, maxEvents: this.config.maxEventsPerMessage, maxBytes: this.config.maxMessageBytes },
      BATCH_HEAD,
      batchTail,
    );
    this.batchForm = this.config.messageFormat === 'batch';
    this.backoffMs = this.config.retryInitialMs;
    // kafkajs's built-in gzip codec made every partition of a request wait a turn of the event loop
    // (see gzip.ts); use the sink's, unless the application registered a gzip codec of its own.
    if (this.config.compression === 'gzip' && !installGzipCodec()) {
      this.logger.debug('kafka sink: gzip codec registered by the application is used as it is');
    }
  }

  /** Connect, create the family topics that are missing, and start sending what was written so far. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new BoxwatchError('ERR_STATE', `kafka sink cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      if (this.config.createTopics) await this.ensureTopics();
      await this.producer.connect();
      this.producerConnected = true;
    } catch (err) {
      if (this.state === 'starting') this.state = 'new';
      throw err;
    }
    // close() was called while we were connecting: it owns the state now; undo the connection.
    if (this.state !== 'starting') {
      await this.producer.disconnect().catch(() => {});
      return;
    }
    this.state = 'running';
    this.logger.info({ brokers: this.config.brokers, prefix: this.config.topicPrefix }, 'kafka sink started');
    this.kick(false);
  }

  write(event: IEvent): void {
    this.received++;
    if (this.state === 'closing' || this.state === 'closed' || this.queue.full) {
      this.drop(1, this.queue.full ? 'queue full' : 'sink closed');
      return;
    }
    let value: string;
    try {
      value = this.batchForm ? batchElementJSON(event) : stringifyEvent(event);
    } catch (err) {
      // An event that cannot be serialised (a plugin bug: a cycle, a throwing getter) is counted, not thrown.
      this.errors++;
      this.drop(1, `cannot serialise ${event.type}: ${(err as Error).message}`);
      return;
    }
    // Serialising here freezes the event as it was written (and finds unserialisable ones at once);
    // the queue encodes it straight into its container's open message.
    const { topic, family } = this.topicOf(event.type);
    this.queue.push(topic, messageKey(event), event.type, event.host, event.container, family, value);
    this.kick(false);
  }

  /** Resolves once everything written before the call has been acknowledged (or the sink is closing). */
  flush(): Promise<void> {
    if (this.queue.length === 0 && !this.pump) return Promise.resolve();
    if (this.state === 'new' || this.state === 'starting') {
      return Promise.reject(new BoxwatchError('ERR_STATE', 'kafka sink: flush() before start() finished'));
    }
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.kick(true);
    return drained;
  }

  /**
   * Send what is queued for at most `closeTimeoutMs`, then disconnect. Whatever could not be delivered
   * by then is counted as dropped. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  stats(): KafkaSinkStats {
    return {
      received: this.received,
      delivered: this.delivered,
      dropped: this.dropped,
      queued: this.queue.length,
      errors: this.errors,
      batches: this.batches,
      messages: this.messages,
      connected: this.lastError === undefined,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  private async doClose(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'closing';
    if (wasRunning && this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.config.closeTimeoutMs);
      });
      const drained = this.flush().then(() => false);
      const expired = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (expired) this.logger.warn({ queued: this.queue.length }, 'kafka sink close timed out');
    }
    // Stop the pump: no new send starts and a backoff sleep ends now. A send already in flight gets a
    // short grace to settle; what is still queued after that is counted as dropped. Should that send
    // be acknowledged later after all, runPump moves its events from dropped to delivered, so the
    // counters always add up (received = delivered + dropped + queued).
    this.aborting = true;
    clearTimeout(this.lingerTimer);
    this.wakeBackoff?.();
    if (this.pump) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.pump, new Promise<void>((resolve) => (timer = setTimeout(resolve, IN_FLIGHT_GRACE_MS)))]);
      clearTimeout(timer);
    }
    this.abandoned = true;
    const left = this.queue.clear();
    if (left > 0) this.drop(left, 'not delivered before close');
    await this.producer.disconnect().catch(() => {});
    this.resolveDrainWaiters();
    this.state = 'closed';
  }

  private createProducer(): Producer {
    return this.kafka.producer({
      idempotent: this.config.idempotent,
      // kafkajs supports idempotence only with one request in flight per broker.
      ...(this.config.idempotent ? { maxInFlightRequests: 1 } : {}),
      createPartitioner: this.partitions.partitioner,
      retry: INNER_RETRY,
    });
  }

  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin({ retry: ADMIN_RETRY });
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = topicsFor(this.config.topicPrefix, EVENT_FAMILIES).filter((t) => !existing.has(t));
      if (wanted.length === 0) return;
      // kafkajs's own waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a broker
      // answers for a moment after creating a topic (often, right after it restarted): wait ourselves.
      await admin.createTopics({
        waitForLeaders: false,
        topics: wanted.map((topic) => ({
          topic,
          numPartitions: this.config.partitions,
          replicationFactor: this.config.replicationFactor,
        })),
      });
      await waitForLeaders(admin, wanted, TOPIC_READY_TIMEOUT_MS);
      this.logger.info({ topics: wanted, partitions: this.config.partitions }, 'created kafka topics');
    } finally {
      await admin.disconnect();
    }
  }

  /** Start the pump now (full batch, flush) or after the linger time (a partial batch may still grow). */
  private kick(now: boolean): void {
    if (this.pump || this.aborting) return;
    if (this.state !== 'running' && this.state !== 'closing') return;
    if (this.queue.length === 0) {
      this.resolveDrainWaiters();
      return;
    }
    if (now || this.config.lingerMs === 0 || this.queue.length >= this.config.batchSize) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.pump = this.runPump().finally(() => {
        this.pump = null;
        this.kick(false);
      });
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.kick(true);
      }, this.config.lingerMs);
    }
  }

  /**
   * Send the head of the queue until it is empty; on failure back off and resend the very same batch.
   * "The same" matters: the idempotent producer numbers each partition's messages, and the broker only
   * recognises a resend as a duplicate when it carries exactly the messages of the first attempt. A
   * retry that took a fresh, longer slice of the queue would reuse the sequence numbers for different
   * messages, and the broker rejects that (OUT_OF_ORDER_SEQUENCE_NUMBER).
   */
  private async runPump(): Promise<void> {
    let batch: InFlight | undefined;
    while ((batch !== undefined || this.queue.length > 0) && !this.aborting) {
      batch ??= this.packHead();
      try {
        if (!this.producerConnected) {
          await this.producer.connect();
          this.producerConnected = true;
        }
        await this.producer.sendBatch({
          topicMessages: batch.topics,
          acks: this.config.acks,
          timeout: this.config.requestTimeoutMs,
          compression: this.config.compressionType,
        });
      } catch (err) {
        if (this.aborting) return;
        await this.onSendFailure(err as Error);
        continue;
      }
      this.delivered += batch.events;
      this.messages += batch.messages;
      if (this.abandoned) {
        this.dropped -= batch.events; // close() already counted these as dropped
        return;
      }
      this.queue.shift(batch.messages, batch.events);
      batch = undefined;
      this.batches++;
      if (this.lastError !== undefined) {
        this.logger.info({ queued: this.queue.length, dropped: this.dropped }, 'kafka reachable again, resuming');
        this.lastError = undefined;
        this.reportedDrop = false;
      }
      this.backoffMs = this.config.retryInitialMs;
    }
  }

  /**
   * The head of the queue (messages holding up to batchSize events, maxRequestBytes in all and
   * maxPartitionBytes per partition), grouped by topic for kafkajs. A message whose key's partition is
   * already known is sent to that partition explicitly (the one its bytes were counted against, and the
   * same on every retry, even if the topic grows meanwhile); the others are partitioned by kafkajs.
   */
  private packHead(): InFlight {
    const bound = { of: (topic: string, key: string) => this.partitions.of(topic, key), maxBytes: this.config.maxPartitionBytes };
    const chunks: Chunk[] = this.queue.take(this.config.batchSize, this.config.maxRequestBytes, bound);
    const byTopic = new Map<string, InFlight['topics'][number]>();
    let events = 0;
    for (const c of chunks) {
      let t = byTopic.get(c.topic);
      if (!t) byTopic.set(c.topic, (t = { topic: c.topic, messages: [] }));
      const partition = this.partitions.of(c.topic, c.key);
      t.messages.push(partition === undefined ? { key: c.key, value: c.value, headers: c.headers } : { key: c.key, value: c.value, headers: c.headers, partition });
      events += c.events;
    }
    return { events, messages: chunks.length, topics: [...byTopic.values()] };
  }

  private async onSendFailure(err: Error): Promise<void> {
    this.errors++;
    if (this.lastError === undefined) {
      this.logger.warn({ err: err.message, queued: this.queue.length }, 'kafka send failed, queueing and retrying');
    }
    this.lastError = err.message;
    if (PRODUCER_STATE_LOST.has((err as { type?: string }).type ?? '')) {
      // The broker forgot this producer (its log was wiped): start over with a new producer id.
      this.logger.warn({ err: err.message }, 'kafka producer state lost, reconnecting with a new producer id');
      await this.producer.disconnect().catch(() => {});
      this.producer = this.createProducer();
      this.producerConnected = false; // the pump connects it before the next send
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.backoffMs);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeBackoff = undefined;
    this.backoffMs = Math.min(this.backoffMs * 2, this.config.retryMaxMs);
  }

  /** Topic and family of an event type, memoised (a handful of types, hundreds of thousands of events). */
  private topicOf(type: string): { topic: string; family: string } {
    let t = this.topicByType.get(type);
    if (t === undefined) {
      t = { topic: topicForType(this.config.topicPrefix, type), family: familyOf(type) };
      this.topicByType.set(type, t);
    }
    return t;
  }

  private drop(count: number, reason: string): void {
    this.dropped += count;
    // One warning per outage, not one per event.
    if (!this.reportedDrop) {
      this.reportedDrop = true;
      this.logger.warn({ reason, dropped: this.dropped, queueSize: this.config.queueSize }, 'kafka sink dropping events');
    }
  }

  private resolveDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * kafkajs's default partitioner (the Java client's murmur2 of the key, so other clients agree on where a
 * key lives), memoised per topic and key. A host has few containers, so nearly every message repeats a
 * key already hashed; profiling showed murmur2 and its 64-bit arithmetic at ~10% of the sink's CPU.
 * Keyed messages map to `hash % partitionCount` regardless of leader availability, so the memo is
 * keyed by partition count too and stays valid until the topic grows.
 *
 * The sink also reads the memo when it packs a request (`of`), to bound the bytes per partition, and
 * then sends those messages with an explicit partition, which the partitioner keeps (kafkajs's default
 * partitioner does the same): the request goes out exactly as it was counted.
 */
export class PartitionMemo {
  private readonly byTopic = new Map<string, { partitions: number; byKey: Map<string, number> }>();

  /** The partition `key` went to on `topic`, if a message of it was partitioned since the topic last changed size. */
  of(topic: string, key: string): number | undefined {
    return this.byTopic.get(topic)?.byKey.get(key);
  }

  readonly partitioner: ICustomPartitioner = () => {
    const hash = Partitioners.DefaultPartitioner();
    return (args) => {
      const count = args.partitionMetadata.length;
      let memo = this.byTopic.get(args.topic);
      if (!memo || memo.partitions !== count) {
        memo = { partitions: count, byKey: new Map() };
        this.byTopic.set(args.topic, memo);
      }
      const pinned = args.message.partition;
      if (typeof pinned === 'number' && Number.isInteger(pinned) && pinned >= 0 && pinned < count) return pinned;
      const key = args.message.key;
      if (typeof key !== 'string') return hash(args);
      let partition = memo.byKey.get(key);
      if (partition === undefined) {
        partition = hash(args);
        // Containers come and go; do not let keys of long-gone ones pile up.
        if (memo.byKey.size >= 65_536) memo.byKey.clear();
        memo.byKey.set(key, partition);
      }
      return partition;
    };
  };
}

/** Wait until every partition of `topics` has a leader; retriable metadata errors are waited out. */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem = 'no leader yet';
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const settled = meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (settled) return;
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable) throw err;
      problem = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new BoxwatchError('ERR_STATE', `kafka topics ${topics.join(', ')} not ready after ${timeoutMs} ms: ${problem}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
