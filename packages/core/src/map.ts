import { BoxwatchError } from './errors.js';
import { native, type NativeError, type NativeMapInfo } from './native.js';
import { bytes, type Codec } from './codec.js';

/** BPF map types boxwatch code refers to (enum bpf_map_type). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  RINGBUF: 27,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

/** Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

export function wrapNativeError(err: unknown, what: string): BoxwatchError {
  const e = err as NativeError;
  if (e?.verifierLog) {
    return new BoxwatchError('ERR_VERIFIER', `${what}: the kernel verifier rejected a program: ${e.message}`, {
      verifierLog: e.verifierLog,
      errno: e.errno,
      cause: err,
    });
  }
  return new BoxwatchError('ERR_BPF', `${what}: ${e?.message ?? String(err)}`, { errno: e?.errno, cause: err });
}

/**
 * A loaded BPF map with typed keys and values. Per-CPU maps hold one value per possible CPU:
 * use lookupPerCpu / updatePerCpu (and entries() yields arrays) for them.
 */
export class BpfMap<K = Buffer, V = Buffer> {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly fd: number;
  readonly perCpu: boolean;
  /** Number of value slots per key: possible CPUs for per-CPU maps, else 1. */
  readonly slots: number;
  private readonly slotSize: number;
  private readonly keyBuf: Buffer;
  private readonly valueBuf: Buffer;

  constructor(
    info: NativeMapInfo,
    private readonly keyCodec: Codec<K>,
    private readonly valueCodec: Codec<V>,
    private readonly isOpen: () => boolean,
  ) {
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.fd = info.fd;
    this.perCpu = PER_CPU_TYPES.has(info.type);
    this.slots = this.perCpu ? native().numPossibleCpus() : 1;
    this.slotSize = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 : info.valueSize;
    if (keyCodec.size !== info.keySize) throw new BoxwatchError('ERR_STATE', `map ${info.name}: key codec is ${keyCodec.size} bytes, the map's key is ${info.keySize}`);
    if (valueCodec.size !== info.valueSize) throw new BoxwatchError('ERR_STATE', `map ${info.name}: value codec is ${valueCodec.size} bytes, the map's value is ${info.valueSize}`);
    this.keyBuf = Buffer.alloc(info.keySize);
    this.valueBuf = Buffer.alloc(this.slotSize * this.slots);
  }

  /** The same map viewed through other codecs. */
  withCodecs<K2, V2>(key: Codec<K2>, value: Codec<V2>): BpfMap<K2, V2> {
    return new BpfMap<K2, V2>(
      { name: this.name, type: this.type, keySize: this.keySize, valueSize: this.valueSize, maxEntries: this.maxEntries, fd: this.fd },
      key,
      value,
      this.isOpen,
    );
  }

  private check(): void {
    if (!this.isOpen()) throw new BoxwatchError('ERR_CLOSED', `map ${this.name}: its object is closed`);
  }

  private encodeKey(key: K): Buffer {
    this.keyCodec.encode(key, this.keyBuf, 0);
    return this.keyBuf;
  }

  private call<T>(what: string, fn: () => T): T {
    this.check();
    try {
      return fn();
    } catch (err) {
      throw wrapNativeError(err, `map ${this.name}: ${what}`);
    }
  }

  lookup(key: K): V | undefined {
    if (this.perCpu) throw new BoxwatchError('ERR_STATE', `map ${this.name} is per-CPU: use lookupPerCpu()`);
    const found = this.call('lookup', () => native().mapLookup(this.fd, this.encodeKey(key), this.valueBuf));
    return found ? this.valueCodec.decode(this.valueBuf, 0) : undefined;
  }

  /** One value per possible CPU. */
  lookupPerCpu(key: K): V[] | undefined {
    const found = this.call('lookup', () => native().mapLookup(this.fd, this.encodeKey(key), this.valueBuf));
    return found ? this.decodeSlots(this.valueBuf, 0) : undefined;
  }

  update(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    if (this.perCpu) throw new BoxwatchError('ERR_STATE', `map ${this.name} is per-CPU: use updatePerCpu()`);
    this.valueCodec.encode(value, this.valueBuf, 0);
    this.call('update', () => native().mapUpdate(this.fd, this.encodeKey(key), this.valueBuf.subarray(0, this.valueSize), flags));
  }

  /** Set every CPU's slot (a single value is copied to all CPUs). */
  updatePerCpu(key: K, values: V | V[], flags: number = UpdateFlags.ANY): void {
    for (let cpu = 0; cpu < this.slots; cpu++) {
      const v = Array.isArray(values) ? values[cpu] : values;
      if (v === undefined) throw new BoxwatchError('ERR_STATE', `map ${this.name}: no value for CPU ${cpu}`);
      this.valueCodec.encode(v, this.valueBuf, cpu * this.slotSize);
    }
    this.call('update', () => native().mapUpdate(this.fd, this.encodeKey(key), this.valueBuf, flags));
  }

  /** Returns whether the key existed. */
  delete(key: K): boolean {
    return this.call('delete', () => native().mapDelete(this.fd, this.encodeKey(key)));
  }

  *keys(): IterableIterator<K> {
    const cur = Buffer.alloc(this.keySize);
    const next = Buffer.alloc(this.keySize);
    let first = true;
    for (;;) {
      const has = this.call('get_next_key', () => native().mapNextKey(this.fd, first ? null : cur, next));
      if (!has) return;
      first = false;
      next.copy(cur);
      yield this.keyCodec.decode(cur, 0);
    }
  }

  /** Entries of a regular map (entries whose key vanished during the walk are skipped). */
  *entries(): IterableIterator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  *entriesPerCpu(): IterableIterator<[K, V[]]> {
    for (const k of this.keys()) {
      const v = this.lookupPerCpu(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /**
   * Atomically take every entry out of a hash map: each entry is read and deleted in one kernel
   * step (BPF_MAP_LOOKUP_AND_DELETE_BATCH), so an update racing with the drain is either in this
   * batch or stays in the map for the next one — nothing is lost. Values are per-CPU arrays for
   * per-CPU maps. Throws ERR_NOT_SUPPORTED (feature map_batch) where the kernel lacks batch ops.
   */
  drainBatch(chunk = 4096): Array<[K, V[]]> {
    const n = Math.min(chunk, Math.max(1, this.maxEntries));
    const keys = Buffer.alloc(n * this.keySize);
    const values = Buffer.alloc(n * this.slotSize * this.slots);
    // The batch token is a bucket index for hash maps; size it generously.
    const token = Buffer.alloc(Math.max(8, this.keySize));
    const tokenIn = Buffer.alloc(token.length);
    const out: Array<[K, V[]]> = [];
    let first = true;
    for (;;) {
      let res: { count: number; done: boolean };
      try {
        this.check();
        res = native().mapBatch('lookupAndDelete', this.fd, first ? null : tokenIn, token, keys, values, n);
      } catch (err) {
        const e = err as NativeError;
        if (e.errno === 22 /* EINVAL */ || e.errno === 524 /* ENOTSUPP */ || e.errno === 95 /* EOPNOTSUPP */) {
          throw new BoxwatchError('ERR_NOT_SUPPORTED', `map ${this.name}: batch lookup-and-delete is not supported by this kernel or map type`, {
            feature: 'map_batch',
            errno: e.errno,
            cause: err,
          });
        }
        throw wrapNativeError(err, `map ${this.name}: lookup_and_delete_batch`);
      }
      for (let i = 0; i < res.count; i++) {
        out.push([this.keyCodec.decode(keys, i * this.keySize), this.decodeSlots(values, i * this.slotSize * this.slots)]);
      }
      if (res.done) return out;
      token.copy(tokenIn);
      first = false;
    }
  }

  private decodeSlots(buf: Buffer, base: number): V[] {
    const out: V[] = new Array(this.slots);
    for (let cpu = 0; cpu < this.slots; cpu++) out[cpu] = this.valueCodec.decode(buf, base + cpu * this.slotSize);
    return out;
  }
}

export function rawMap(info: NativeMapInfo, isOpen: () => boolean): BpfMap<Buffer, Buffer> {
  return new BpfMap(info, bytes(info.keySize), bytes(info.valueSize), isOpen);
}
