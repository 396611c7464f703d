import { z } from 'zod';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import kafkajs, { type Kafka, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { configError, type Logger } from '@boxwatch/core';

// kafkajs is CommonJS and Node's ESM loader cannot see its named exports: import the default.
const { Kafka: KafkaClient, logLevel: KafkaLogLevel } = kafkajs;

/**
 * Options shared by the sink and the source: where the brokers are and how to talk to them.
 * Parsed with zod so a bad value becomes ERR_CONFIG naming the field, before anything connects.
 */

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** `"a:9092,b:9092"` or `["a:9092", "b:9092"]` → list of `host:port`, each checked. */
export const brokersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((value, ctx) => {
    const list = (Array.isArray(value) ? value : value.split(','))
      .map((b) => b.trim())
      .filter((b) => b.length > 0);
    if (list.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'no broker given (expected "host:port[,host:port...]")' });
      return z.NEVER;
    }
    for (const broker of list) {
      const m = HOST_PORT.exec(broker);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port < 1 || port > 65_535) {
        ctx.addIssue({ code: 'custom', message: `cannot parse broker "${broker}" (expected host:port)` });
        return z.NEVER;
      }
    }
    return list;
  });

const saslSchema = z.discriminatedUnion('mechanism', [
  z.object({ mechanism: z.literal('plain'), username: z.string(), password: z.string() }).strict(),
  z.object({ mechanism: z.literal('scram-sha-256'), username: z.string(), password: z.string() }).strict(),
  z.object({ mechanism: z.literal('scram-sha-512'), username: z.string(), password: z.string() }).strict(),
  z
    .object({
      mechanism: z.literal('oauthbearer'),
      oauthBearerProvider: z.custom<() => Promise<{ value: string }>>((v) => typeof v === 'function', {
        message: 'must be a function returning a token',
      }),
    })
    .strict(),
]);

export const connectionShape = {
  brokers: brokersSchema,
  clientId: z.string().min(1).default('boxwatch'),
  /** `true` for TLS with Node's defaults, or node:tls connect options (ca, cert, key, servername, ...). */
  ssl: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
  sasl: saslSchema.optional(),
  connectionTimeoutMs: z.number().int().positive().default(3000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
  /** Where kafkajs's own log lines go (mapped onto the boxwatch logger). */
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).warn === 'function').optional(),
};

export interface ConnectionConfig {
  brokers: string[];
  clientId: string;
  ssl?: boolean | Record<string, unknown>;
  sasl?: z.infer<typeof saslSchema>;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  logger?: Logger;
}

/** Parse with zod; the first problem becomes ERR_CONFIG naming the field (`sasl.username`, `brokers`, ...). */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, fieldPrefix = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldPrefix + (issue.path.length ? issue.path.map(String).join('.') : '(options)');
  throw configError(field, issue.message);
}

/**
 * kafkajs logs through a "log creator"; route its lines into the boxwatch logger. Connection errors
 * during a broker outage are expected (the sink retries and counts them), so kafkajs ERROR lines are
 * logged as warnings, and everything below WARN is debug.
 */
function logCreatorFor(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // The sink retries sends itself and resends the same messages with the same sequence numbers,
      // so limiting kafkajs's inner retries does not weaken idempotence; the warning is misleading.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const line = `kafkajs: ${message}`;
      if (level <= KafkaLogLevel.WARN) logger.warn(extra, line);
      else logger.debug(extra, line);
    };
}

/** A kafkajs client for the parsed connection options. */
export function createKafka(conn: ConnectionConfig, logger: Logger, retry?: KafkaConfig['retry']): Kafka {
  return new KafkaClient({
    clientId: conn.clientId,
    brokers: conn.brokers,
    ssl: conn.ssl as boolean | TlsOptions | undefined,
    sasl: conn.sasl as SASLOptions | undefined,
    connectionTimeout: conn.connectionTimeoutMs,
    requestTimeout: conn.requestTimeoutMs,
    logLevel: KafkaLogLevel.INFO,
    logCreator: logCreatorFor(logger),
    ...(retry ? { retry } : {}),
  });
}
