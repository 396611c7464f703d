import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { silentLogger } from '@boxwatch/core';
import { DEFAULT_GZIP_LEVEL, KafkaSink, gzipCodec } from '@boxwatch/sink-kafka';
import { installGzipCodec } from '../../src/gzip.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;
const codecs = CompressionCodecs as unknown as Record<number, () => { compress: (e: { buffer: Buffer }) => Promise<Buffer>; decompress: (b: Buffer) => Promise<Buffer> }>;
const builtinFactory = codecs[CompressionTypes.GZIP]!;
const builtin = builtinFactory();

afterEach(() => {
  codecs[CompressionTypes.GZIP] = builtinFactory;
});

/** Records-like input: JSON that compresses like the sink's batches, plus some incompressible bytes. */
const input = Buffer.concat([
  Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ type: 'file.open', path: `/var/lib/ünï/${i}`, pid: i })))),
  Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)),
]);

describe('gzip codec', () => {
  it('compresses to plain gzip that kafkajs (and zlib) decompress, and decompresses what kafkajs compressed', async () => {
    const codec = gzipCodec();
    const out = await codec.compress({ buffer: input });
    expect(out.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(out)).toEqual(input);
    expect(await builtin.decompress(out)).toEqual(input);
    expect(await codec.decompress(await builtin.compress({ buffer: input }))).toEqual(input);
    expect(await codec.decompress(await gzipCodec({ level: 9 }).compress({ buffer: Buffer.alloc(0) }))).toEqual(Buffer.alloc(0));
  });

  it('uses the level asked for (default 1)', async () => {
    expect(DEFAULT_GZIP_LEVEL).toBe(1);
    expect(await gzipCodec().compress({ buffer: input })).toEqual(gzipSync(input, { level: 1 }));
    expect(await gzipCodec({ level: 9 }).compress({ buffer: input })).toEqual(gzipSync(input, { level: 9 }));
    for (const level of [0, 10, 1.5, Number.NaN]) expect(() => gzipCodec({ level })).toThrow(RangeError);
  });

  it('replaces kafkajs built-in gzip codec (once), but never a codec the application registered', () => {
    expect(installGzipCodec()).toBe(true);
    const installed = codecs[CompressionTypes.GZIP]!;
    expect(installed).not.toBe(builtinFactory);
    expect(installGzipCodec()).toBe(true);
    expect(codecs[CompressionTypes.GZIP]).toBe(installed);

    const mine = () => ({ compress: builtin.compress, decompress: builtin.decompress });
    codecs[CompressionTypes.GZIP] = mine;
    expect(installGzipCodec()).toBe(false);
    expect(codecs[CompressionTypes.GZIP]).toBe(mine);
  });

  it('a sink with gzip installs it; a sink without compression leaves kafkajs alone', () => {
    new KafkaSink({ brokers: '127.0.0.1:1', logger: silentLogger });
    expect(codecs[CompressionTypes.GZIP]).toBe(builtinFactory);
    new KafkaSink({ brokers: '127.0.0.1:1', compression: 'gzip', logger: silentLogger });
    expect(codecs[CompressionTypes.GZIP]).not.toBe(builtinFactory);
  });
});
