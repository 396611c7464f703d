import { z } from 'zod';
import kafkajs from 'kafkajs';
import { configError } from '@boxwatch/core';
import { connectionShape, parseOptions, type ConnectionConfig } from './connection.js';

// kafkajs is CommonJS and Node's ESM loader cannot see its named exports: import the default.
const { CompressionCodecs, CompressionTypes } = kafkajs;
type CompressionTypes = (typeof CompressionTypes)[keyof typeof CompressionTypes];

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** How events map onto Kafka messages (see docs/kafka.md, "Messages"). */
export const MESSAGE_FORMATS = ['batch', 'single'] as const;
export type MessageFormat = (typeof MESSAGE_FORMATS)[number];

const COMPRESSION_TYPE: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

const KAFKA_TOPIC_NAME = /^[A-Za-z0-9._-]+$/;

const sinkSchema = z
  .object({
    ...connectionShape,
    clientId: z.string().min(1).default('boxwatch-agent'),
    /** Topics are `<topicPrefix>.syscall`, `.file`, `.net`, `.process`, `.resource`, `.enforce`, `.alerts`. */
    topicPrefix: z.string().regex(KAFKA_TOPIC_NAME, 'only letters, digits, ".", "_" and "-"').max(200).default('boxwatch'),
    /** Create missing topics on start (with `partitions` partitions). */
    createTopics: z.boolean().default(true),
    partitions: z.number().int().min(1).max(10_000).default(6),
    replicationFactor: z.number().int().min(1).max(32).default(1),
    /** How long a partial batch waits for more events before it is sent. */
    lingerMs: z.number().int().min(0).max(60_000).default(5),
    /** Most events in one produce request. */
    batchSize: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Most bytes (values, keys, record overhead) in one produce request (at least one message goes). */
    maxRequestBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(8_000_000),
    /**
     * Most bytes (uncompressed) of one partition's messages in one produce request. A broker refuses a
     * partition's record batch over its `message.max.bytes` (1 MiB by default): keep this under that
     * limit. Messages whose partition is not known yet count against every partition of their topic.
     */
    maxPartitionBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(1_000_000),
    /**
     * Wire form of a Kafka message: `batch` (default) packs consecutive events of one key (host +
     * container) into one message, `{"schema":2,"events":[...]}`; `single` sends one message per event
     * (the event's own JSON, schema 1), for consumers that want one record per event.
     */
    messageFormat: z.enum(MESSAGE_FORMATS, { message: `must be one of ${MESSAGE_FORMATS.join(', ')}` }).default('batch'),
    /** `batch` form: most events in one Kafka message. */
    maxEventsPerMessage: z.number().int().min(1).max(100_000).default(500),
    /**
     * `batch` form: most bytes of event JSON in one Kafka message (an event larger than this still
     * travels, alone in its message). Keep it well under the broker's `message.max.bytes` (1 MiB default).
     */
    maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(256 * 1024),
    /** Most events held in memory while the broker is slow or away; beyond it events are dropped (and counted). */
    queueSize: z.number().int().min(1).max(100_000_000).default(100_000),
    compression: z.enum(COMPRESSIONS, { message: `must be one of ${COMPRESSIONS.join(', ')}` }).default('none'),
    /**
     * Idempotent producer: the broker drops resent duplicates, so a retry after a lost acknowledgement
     * does not write an event twice. Needs acks = -1 (all).
     */
    idempotent: z.boolean().default(true),
    acks: z.union([z.literal(-1), z.literal(0), z.literal(1)]).default(-1),
    /** Backoff between failed sends: doubles from the first to the max. */
    retryInitialMs: z.number().int().min(1).max(60_000).default(100),
    retryMaxMs: z.number().int().min(1).max(300_000).default(5_000),
    /** close() waits this long for the queue to drain; what is still queued after it is counted as dropped. */
    closeTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .strict();

export type KafkaSinkOptions = z.input<typeof sinkSchema>;

export interface KafkaSinkConfig extends ConnectionConfig {
  topicPrefix: string;
  createTopics: boolean;
  partitions: number;
  replicationFactor: number;
  lingerMs: number;
  batchSize: number;
  maxRequestBytes: number;
  maxPartitionBytes: number;
  messageFormat: MessageFormat;
  maxEventsPerMessage: number;
  maxMessageBytes: number;
  queueSize: number;
  compression: Compression;
  compressionType: CompressionTypes;
  idempotent: boolean;
  acks: -1 | 0 | 1;
  retryInitialMs: number;
  retryMaxMs: number;
  closeTimeoutMs: number;
}

/** Validate sink options; throws ERR_CONFIG naming the field. */
export function parseSinkOptions(input: unknown): KafkaSinkConfig {
  const opts = parseOptions(sinkSchema, input);
  const compressionType = COMPRESSION_TYPE[opts.compression];
  // kafkajs ships only gzip; the others work once the application registers a codec
  // (e.g. `CompressionCodecs[CompressionTypes.ZSTD] = ...` from a codec package).
  if (compressionType !== CompressionTypes.None && !codecRegistered(compressionType)) {
    throw configError(
      'compression',
      `${opts.compression} needs a codec registered in kafkajs CompressionCodecs (only gzip and none are built in)`,
    );
  }
  if (opts.idempotent && opts.acks !== -1) {
    throw configError('acks', 'an idempotent producer needs acks = -1 (all); set idempotent: false to use acks 0 or 1');
  }
  if (opts.retryMaxMs < opts.retryInitialMs) {
    throw configError('retryMaxMs', `must be >= retryInitialMs (${opts.retryInitialMs})`);
  }
  return { ...opts, compressionType } as KafkaSinkConfig;
}

/**
 * kafkajs keeps placeholder factories for snappy/lz4/zstd that throw "not implemented" when called; a
 * registered codec package replaces them with a factory returning `{ compress, decompress }`.
 */
function codecRegistered(type: CompressionTypes): boolean {
  try {
    const factories = CompressionCodecs as unknown as Record<number, (() => { compress?: unknown }) | undefined>;
    const codec = factories[type]?.();
    return typeof codec?.compress === 'function';
  } catch {
    return false;
  }
}
