import { describe, expect, it } from 'vitest';
import { isBoxwatchError, silentLogger } from '@boxwatch/core';
import { KafkaSink, KafkaSource, parseSinkOptions } from '@boxwatch/sink-kafka';

/** The ERR_CONFIG thrown for `options`, or a failure if none is thrown. */
function configErrorOf(build: () => unknown): { field?: string; message: string } {
  try {
    build();
  } catch (err) {
    expect(isBoxwatchError(err, 'ERR_CONFIG')).toBe(true);
    return err as { field?: string; message: string };
  }
  throw new Error('expected ERR_CONFIG, nothing was thrown');
}

const base = { brokers: '127.0.0.1:9092', logger: silentLogger };

describe('sink options', () => {
  it('accepts a broker list as a string or an array and fills defaults', () => {
    const c = parseSinkOptions({ brokers: ' a.example:9092, [::1]:9093 ,10.0.0.1:1 ' });
    expect(c.brokers).toEqual(['a.example:9092', '[::1]:9093', '10.0.0.1:1']);
    expect(parseSinkOptions({ brokers: ['k1:9092'] }).brokers).toEqual(['k1:9092']);
    expect(c).toMatchObject({ topicPrefix: 'boxwatch', compression: 'none', idempotent: true, acks: -1, partitions: 6 });
    expect(c).toMatchObject({ messageFormat: 'batch', maxEventsPerMessage: 500, maxMessageBytes: 256 * 1024 });
    expect(c).toMatchObject({ batchSize: 10_000, maxRequestBytes: 8_000_000, maxPartitionBytes: 1_000_000 });
    expect(parseSinkOptions({ ...base, messageFormat: 'single' }).messageFormat).toBe('single');
    expect(parseSinkOptions({ ...base, compression: 'gzip' }).compression).toBe('gzip');
  });

  it.each([
    ['no port', 'kafka.local'],
    ['port out of range', 'kafka:99999'],
    ['garbage', 'http://kafka:9092'],
    ['empty', ' , '],
    ['space inside', 'kafka 1:9092'],
  ])('unparsable broker list (%s) → ERR_CONFIG naming brokers', (_, brokers) => {
    const err = configErrorOf(() => new KafkaSink({ ...base, brokers }));
    expect(err.field).toBe('brokers');
    expect(err.message).toMatch(/^brokers: /);
  });

  it('unknown compression → ERR_CONFIG naming compression', () => {
    const err = configErrorOf(() => new KafkaSink({ ...base, compression: 'brotli' as never }));
    expect(err.field).toBe('compression');
    expect(err.message).toContain('none, gzip');
  });

  it('a known codec that is not registered → ERR_CONFIG naming compression', () => {
    const err = configErrorOf(() => new KafkaSink({ ...base, compression: 'zstd' }));
    expect(err.field).toBe('compression');
    expect(err.message).toContain('codec');
  });

  it.each([
    [{ partitions: 0 }, 'partitions'],
    [{ queueSize: -5 }, 'queueSize'],
    [{ lingerMs: 1.5 }, 'lingerMs'],
    [{ topicPrefix: 'bad prefix!' }, 'topicPrefix'],
    [{ acks: 1 }, 'acks'],
    [{ retryInitialMs: 500, retryMaxMs: 100 }, 'retryMaxMs'],
    [{ sasl: { mechanism: 'plain', username: 'u' } }, 'sasl.password'],
    [{ sasl: { mechanism: 'kerberos', username: 'u', password: 'p' } }, 'sasl.mechanism'],
    [{ ssl: 'yes' }, 'ssl'],
    [{ bogus: true }, '(options)'],
    [{ messageFormat: 'ndjson' }, 'messageFormat'],
    [{ maxEventsPerMessage: 0 }, 'maxEventsPerMessage'],
    [{ maxMessageBytes: 100 }, 'maxMessageBytes'],
  ])('%j → ERR_CONFIG naming %s', (extra, field) => {
    const err = configErrorOf(() => new KafkaSink({ ...base, ...(extra as object) }));
    expect(err.field).toBe(field);
  });

  it('passes TLS and SASL through', () => {
    const c = parseSinkOptions({ ...base, ssl: { rejectUnauthorized: false }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(c.ssl).toEqual({ rejectUnauthorized: false });
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });
});

describe('source options', () => {
  it('needs a groupId and parsable brokers', () => {
    expect(configErrorOf(() => new KafkaSource({ ...base } as never)).field).toBe('groupId');
    expect(configErrorOf(() => new KafkaSource({ ...base, groupId: 'g', brokers: 'nope' })).field).toBe('brokers');
  });

  it('reads every family topic by default, or the families asked for', () => {
    expect(new KafkaSource({ ...base, groupId: 'g', topicPrefix: 'bw' }).topics).toEqual([
      'bw.syscall', 'bw.file', 'bw.net', 'bw.process', 'bw.resource', 'bw.enforce', 'bw.alerts',
    ]);
    expect(new KafkaSource({ ...base, groupId: 'g', topicPrefix: 'bw', families: ['net', 'alert'] }).topics).toEqual(['bw.net', 'bw.alerts']);
  });
});

describe('compression codecs', () => {
  it('accepts a codec once the application registers it with kafkajs', async () => {
    const { CompressionCodecs, CompressionTypes } = await import('kafkajs');
    const original = CompressionCodecs[CompressionTypes.LZ4];
    try {
      CompressionCodecs[CompressionTypes.LZ4] = () => ({ compress: async (e: { buffer: Buffer }) => e.buffer, decompress: async (b: Buffer) => b });
      expect(parseSinkOptions({ ...base, compression: 'lz4' }).compression).toBe('lz4');
    } finally {
      CompressionCodecs[CompressionTypes.LZ4] = original;
    }
    expect(configErrorOf(() => parseSinkOptions({ ...base, compression: 'lz4' })).field).toBe('compression');
  });
});
