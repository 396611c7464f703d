import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS and Node's ESM loader cannot see its named exports: import the default.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/** What kafkajs calls a codec: `compress` gets the encoded records, `decompress` a fetched record set. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export interface GzipCodecOptions {
  /** zlib level, 1 (fastest) to 9 (smallest). Default 1. */
  level?: number;
}

/** The gzip level of the sink's codec: the fastest measured end to end, for 7-11% more bytes than level 6 (docs/kafka.md, Compression). */
export const DEFAULT_GZIP_LEVEL = 1;

const unzip = (buffer: Buffer): Promise<Buffer> =>
  new Promise((resolve, reject) => zlib.unzip(buffer, (err, out) => (err ? reject(err) : resolve(out))));

/**
 * A kafkajs gzip codec that compresses **synchronously** at `level` (default 1); decompression is
 * asynchronous, like kafkajs's own. Output is plain gzip (RFC 1952): any Kafka client or broker reads it.
 *
 * Why synchronous: kafkajs compresses the partitions of a produce request one after the other, awaiting
 * each. With its built-in codec (async `zlib.gzip`, level 6) every partition therefore costs a turn of
 * the event loop, and while the agent's JS thread is busy (ring-buffer drains, `write()`), each of those
 * turns waits behind a whole drain: most of a request's encoding time was that waiting, while the sink's
 * one request in flight held everything else back. Compressing inline at level 1 costs ~1-3 ms of JS
 * thread per MB of event JSON and no waits; level 6 inline costs about 3× that for 7-11% fewer bytes.
 * Measured with the sink's throughput bench (docs/kafka.md, Throughput).
 *
 * Register it yourself to choose a level (it applies to every kafkajs producer of the process):
 * `CompressionCodecs[CompressionTypes.GZIP] = () => gzipCodec({ level: 6 })`.
 */
export function gzipCodec(options: GzipCodecOptions = {}): KafkaCodec {
  const level = options.level ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level must be an integer 1..9, got ${String(level)}`);
  const zopts = { level };
  return {
    // async so that a failure becomes a rejection kafkajs handles like any failed encode.
    async compress(encoder) {
      return zlib.gzipSync(encoder.buffer, zopts);
    },
    decompress: unzip,
  };
}

/** kafkajs's own gzip codec module, to tell whether the application registered another one. */
function builtinGzip(): unknown {
  try {
    return createRequire(import.meta.url)('kafkajs/src/protocol/message/compression/gzip');
  } catch {
    return undefined;
  }
}

const defaultFactory = (): KafkaCodec => sinkCodec;
const sinkCodec = gzipCodec();

/**
 * Make kafkajs use `gzipCodec()` for gzip, unless the application registered a gzip codec of its own
 * (that one is left alone). kafkajs keeps one codec per compression type for the whole process, so this
 * applies to every kafkajs producer in it. Returns whether the sink's codec is the one in use.
 */
export function installGzipCodec(): boolean {
  const codecs = CompressionCodecs as unknown as Record<number, () => unknown>;
  const current = codecs[CompressionTypes.GZIP];
  if (current === defaultFactory) return true;
  const builtin = builtinGzip();
  let isBuiltin = false;
  try {
    isBuiltin = builtin !== undefined && current?.() === builtin;
  } catch {
    isBuiltin = false;
  }
  if (!isBuiltin) return false;
  codecs[CompressionTypes.GZIP] = defaultFactory;
  return true;
}
