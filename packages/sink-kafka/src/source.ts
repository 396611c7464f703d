import { z } from 'zod';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { BoxwatchError, createLogger, type IEvent, type Logger } from '@boxwatch/core';
import { connectionShape, createKafka, parseOptions, type ConnectionConfig } from './connection.js';
import { EVENT_FAMILIES, topicsFor } from './topics.js';
import { decodeValue } from './wire.js';

const sourceSchema = z
  .object({
    ...connectionShape,
    clientId: z.string().min(1).default('boxwatch-detector'),
    /** Consumers with the same groupId split the partitions between them. */
    groupId: z.string().min(1),
    topicPrefix: z.string().regex(/^[A-Za-z0-9._-]+$/).default('boxwatch'),
    /** Event families to read (`syscall`, `file`, `net`, `process`, `resource`, `enforce`, `alert`); all by default. */
    families: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).min(1).optional(),
    /** Explicit topic names; overrides topicPrefix/families. */
    topics: z.array(z.string().min(1)).min(1).optional(),
    /** A group with no committed offset starts at the oldest event (true) or only sees new ones (false). */
    fromBeginning: z.boolean().default(false),
    sessionTimeoutMs: z.number().int().min(1000).default(30_000),
    heartbeatIntervalMs: z.number().int().min(100).default(3_000),
    maxBytesPerPartition: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * The broker answers a fetch once it has this many bytes or maxWaitTimeMs passed. Waiting for a
     * little data instead of answering per produced batch keeps a busy consumer from spending its time
     * on many tiny fetches.
     */
    minBytes: z.number().int().min(1).default(1),
    maxWaitTimeMs: z.number().int().min(0).default(5_000),
    /** Partitions processed in parallel; order holds within a partition either way. */
    partitionsConsumedConcurrently: z.number().int().min(1).max(64).default(1),
    /** kafkajs retries (with backoff) when connecting and before a failing consumer is given up. */
    retries: z.number().int().min(0).max(100).default(5),
  })
  .strict();

export type KafkaSourceOptions = z.input<typeof sourceSchema>;
export type KafkaSourceConfig = ConnectionConfig & Omit<z.output<typeof sourceSchema>, keyof ConnectionConfig>;

/** Where a message came from. */
export interface MessageMeta {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** Position of the event in its message (0 for the single-event form; batch messages hold many). */
  index: number;
}

export interface BatchMeta {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
}

export type EventHandler = (event: IEvent, meta: MessageMeta) => Promise<void> | void;
export type BatchHandler = (events: IEvent[], meta: BatchMeta) => Promise<void> | void;

export interface SourceHandlers {
  /** Called per event, awaited; its offset is committed only after it returns. */
  onEvent?: EventHandler;
  /** Called per fetched batch of one partition, awaited; offsets are committed after it returns. */
  onBatch?: BatchHandler;
  /**
   * A message that is not a boxwatch event or batch, or an element of a batch that is not an event
   * (counted in stats().decodeErrors and skipped; `meta.index` says which element).
   */
  onDecodeError?: (error: Error, meta: MessageMeta) => void;
}

export interface KafkaSourceStats {
  /** Events decoded and handed to the handler (and processed without throwing). */
  consumed: number;
  /** Messages (or elements of batch messages) that were not valid events (skipped, never silently). */
  decodeErrors: number;
  /** Handler calls that threw: the batch is not committed and kafkajs redelivers it. */
  handlerErrors: number;
  /** Partitions this member owns now, per topic. */
  assignment: Record<string, number[]>;
  /** Times the kafkajs consumer crashed (it restarts itself after retriable errors). */
  crashes: number;
  /** False once the consumer crashed for good (a non-retriable error): nothing more will be consumed. */
  running: boolean;
  lastError?: string;
}

/** Checked at every HEARTBEAT_EVERY messages so a long batch does not get the member evicted. */
const HEARTBEAT_EVERY = 500;

/**
 * Reads boxwatch events back from Kafka as a consumer group (the detector side of the Kafka path).
 * Each message is decoded with core's `eventFromJSON`, so handlers see the same event objects as
 * in-process subscribers. Offsets are resolved only after the handler returned, and committed at
 * the end of every batch: a crash replays unprocessed events instead of losing them (at-least-once).
 */
export class KafkaSource {
  readonly config: KafkaSourceConfig;
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  private handlers: SourceHandlers = {};
  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private consumed = 0;
  private decodeErrors = 0;
  private handlerErrors = 0;
  private assignment: Record<string, number[]> = {};
  private crashes = 0;
  private lastError: string | undefined;

  constructor(options: KafkaSourceOptions) {
    this.config = parseOptions(sourceSchema, options) as KafkaSourceConfig;
    this.logger = (this.config.logger ?? createLogger({ name: 'boxwatch' })).child({ source: 'kafka' });
    const kafka = createKafka(this.config, this.logger, { retries: this.config.retries });
    this.consumer = kafka.consumer({
      groupId: this.config.groupId,
      sessionTimeout: this.config.sessionTimeoutMs,
      heartbeatInterval: this.config.heartbeatIntervalMs,
      maxBytesPerPartition: this.config.maxBytesPerPartition,
      minBytes: this.config.minBytes,
      maxWaitTimeInMs: this.config.maxWaitTimeMs,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assignment = { ...payload.memberAssignment };
    });
    // A crash kafkajs does not restart from would otherwise leave the source silently idle.
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.crashes++;
      this.lastError = payload.error.message;
      if (payload.restart) {
        this.logger.warn({ err: payload.error.message }, 'kafka consumer crashed; kafkajs restarts it');
      } else {
        this.state = 'stopped';
        this.assignment = {};
        this.logger.error({ err: payload.error.message }, 'kafka consumer crashed and stopped');
      }
    });
  }

  /** Topics this source reads. */
  get topics(): string[] {
    return this.config.topics ?? topicsFor(this.config.topicPrefix, this.config.families ?? EVENT_FAMILIES);
  }

  /** Join the group and start handing events to the handler(s). Resolves once consuming has started. */
  async start(handlers: SourceHandlers | EventHandler): Promise<void> {
    if (this.state !== 'new') throw new BoxwatchError('ERR_STATE', `kafka source cannot start: it is ${this.state}`);
    this.handlers = typeof handlers === 'function' ? { onEvent: handlers } : handlers;
    if (!this.handlers.onEvent && !this.handlers.onBatch) {
      throw new BoxwatchError('ERR_CONFIG', 'kafka source needs an onEvent or onBatch handler', { field: 'handlers' });
    }
    this.state = 'running';
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.topics, fromBeginning: this.config.fromBeginning });
      await this.consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.config.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.processBatch(payload),
      });
    } catch (err) {
      // Leave it startable again (e.g. once the broker is reachable).
      await this.consumer.disconnect().catch(() => {});
      this.state = 'new';
      throw err;
    }
    this.logger.info({ groupId: this.config.groupId, topics: this.topics }, 'kafka source started');
  }

  /** Leave the group (committing what was processed). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopped';
      await this.consumer.disconnect();
      this.assignment = {};
    })();
    return this.stopping;
  }

  stats(): KafkaSourceStats {
    return {
      consumed: this.consumed,
      decodeErrors: this.decodeErrors,
      handlerErrors: this.handlerErrors,
      assignment: this.assignment,
      crashes: this.crashes,
      running: this.state === 'running',
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  private async processBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const { onEvent, onBatch } = this.handlers;
    const events: IEvent[] = [];
    let lastOffset: string | undefined;
    let n = 0;
    try {
      for (const message of batch.messages) {
        // After a rebalance took the partition away, stop: its new owner will process the rest.
        if (!isRunning() || isStale()) break;
        const key = message.key?.toString() ?? null;
        const decoded = this.decode(message, topic, partition, key);
        for (let i = 0; i < decoded.length; i++) {
          const event = decoded[i]!;
          if (event instanceof Error) continue; // counted and reported by decode()
          if (onBatch) events.push(event);
          else if (onEvent) {
            await onEvent(event, { topic, partition, offset: message.offset, key, index: i });
            this.consumed++;
          }
          if (++n % HEARTBEAT_EVERY === 0) await heartbeat();
        }
        // A message's offset is resolved only once all its events were handled: a handler failure
        // in the middle of a batch message redelivers the whole message (at-least-once).
        if (onBatch) lastOffset = message.offset;
        else resolveOffset(message.offset);
      }
      if (onBatch && lastOffset !== undefined) {
        await onBatch(events, { topic, partition, firstOffset: batch.firstOffset() ?? lastOffset, lastOffset });
        this.consumed += events.length;
        resolveOffset(lastOffset);
      }
    } catch (err) {
      this.handlerErrors++;
      this.logger.warn({ err: (err as Error).message, topic, partition }, 'kafka source handler failed; batch will be redelivered');
      // Commit what was processed before the failure, then let kafkajs restart from the failed message.
      await commitOffsetsIfNecessary().catch(() => {});
      throw err;
    }
    await commitOffsetsIfNecessary();
  }

  /**
   * The events of one message, in order; an element that is not an event stays in its place as the
   * Error, already counted and reported (an undecodable message yields nothing).
   */
  private decode(message: KafkaMessage, topic: string, partition: number, key: string | null): Array<IEvent | Error> {
    let items: Array<IEvent | Error>;
    try {
      items = decodeValue(message.value).items;
    } catch (err) {
      this.decodeError(err as Error, { topic, partition, offset: message.offset, key, index: 0 });
      return [];
    }
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      if (item instanceof Error) this.decodeError(item, { topic, partition, offset: message.offset, key, index });
    }
    return items;
  }

  private decodeError(err: Error, meta: MessageMeta): void {
    this.decodeErrors++;
    if (this.decodeErrors === 1 || this.decodeErrors % 1000 === 0) {
      this.logger.warn({ err: err.message, ...meta, decodeErrors: this.decodeErrors }, 'kafka source: undecodable message skipped');
    }
    this.handlers.onDecodeError?.(err, meta);
  }
}
