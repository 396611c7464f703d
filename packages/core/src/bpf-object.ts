import { accessSync, constants } from 'node:fs';
import { BoxwatchError } from './errors.js';
import { native, type NativeAttachOptions, type NativeProgramStats, type NativeBpfObject, type NativeDataVar, type NativeLink, type NativeMapInfo, type NativeProgramInfo } from './native.js';
import { BpfMap, MapType, rawMap, wrapNativeError } from './map.js';
import { u32, u64, type Codec } from './codec.js';
import { RingBufferReader, type RecordHandler, type RingBufferOptions } from './ring-buffer.js';

export type ProgramInfo = Omit<NativeProgramInfo, 'fd'>;
export type MapInfo = Omit<NativeMapInfo, 'fd'>;
export type AttachOptions = NativeAttachOptions;
export type ProgramStats = NativeProgramStats;
/** Values a `const volatile` global can be set to before load. */
export type GlobalValue = number | bigint | boolean | string | Buffer;

/** An attachment of a program; close() detaches. Idempotent. */
export class BpfLink {
  private link: NativeLink | null;
  constructor(readonly program: string, link: NativeLink) {
    this.link = link;
  }
  get attached(): boolean {
    return this.link !== null;
  }
  close(): void {
    if (this.link) {
      this.link.close();
      this.link = null;
    }
  }
}

/**
 * A BPF ELF object: opened (spec: programs, maps, globals can be inspected and configured), then
 * loaded into the kernel, then attached. close() detaches every link, closes ring buffers and
 * frees the kernel objects; it is idempotent.
 */
export class BpfObject {
  private handle: NativeBpfObject | null;
  private loadedFlag = false;
  private readonly links = new Set<BpfLink>();
  private readonly readers = new Set<RingBufferReader>();
  private vars: Map<string, NativeDataVar> | null = null;
  private mapInfos: Map<string, NativeMapInfo> | null = null;

  private constructor(readonly source: string, handle: NativeBpfObject) {
    this.handle = handle;
  }

  /** Open a `.bpf.o` from a path or an in-memory ELF image. */
  static open(source: string | Buffer, options: { name?: string } = {}): BpfObject {
    const label = typeof source === 'string' ? source : `<buffer ${source.length} bytes>`;
    if (typeof source === 'string') {
      try {
        accessSync(source, constants.R_OK);
      } catch (err) {
        throw new BoxwatchError('ERR_BAD_OBJECT', `cannot read BPF object ${source}: ${(err as Error).message}`, { cause: err });
      }
    }
    try {
      return new BpfObject(label, new (native().BpfObject)(source, options.name));
    } catch (err) {
      const e = err as Error & { errno?: number; libbpfLog?: string };
      const why = e.libbpfLog?.trim().split('\n').slice(-3).join(' | ') || e.message;
      throw new BoxwatchError('ERR_BAD_OBJECT', `${label} is not a loadable BPF object: ${why}`, { errno: e.errno, cause: err });
    }
  }

  private live(): NativeBpfObject {
    if (!this.handle) throw new BoxwatchError('ERR_CLOSED', `BPF object ${this.source} is closed`);
    return this.handle;
  }

  get loaded(): boolean {
    return this.loadedFlag;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  programs(): ProgramInfo[] {
    return this.live().programs().map(({ fd: _fd, ...p }) => p);
  }

  maps(): MapInfo[] {
    return this.live().maps().map(({ fd: _fd, ...m }) => m);
  }

  private requireSpec(what: string): NativeBpfObject {
    const h = this.live();
    if (this.loadedFlag) throw new BoxwatchError('ERR_STATE', `${what} must happen before load()`);
    return h;
  }

  setAutoload(program: string, autoload: boolean): void {
    try {
      this.requireSpec('setAutoload').setAutoload(program, autoload);
    } catch (err) {
      if (err instanceof BoxwatchError) throw err;
      throw new BoxwatchError('ERR_NOT_FOUND', `${this.source}: ${(err as Error).message}`, { cause: err });
    }
  }

  setMaxEntries(map: string, maxEntries: number): void {
    try {
      this.requireSpec('setMaxEntries').setMapMaxEntries(map, maxEntries);
    } catch (err) {
      if (err instanceof BoxwatchError) throw err;
      throw wrapNativeError(err, `${this.source}: map ${map}`);
    }
  }

  /** Global variables of the data sections (`const volatile` ones live in .rodata). */
  globals(): NativeDataVar[] {
    return [...this.globalVars().values()];
  }

  private globalVars(): Map<string, NativeDataVar> {
    // __bw_* are boxwatch's own BTF anchors (BW_EXPORT_STRUCT), not settable configuration.
    if (!this.vars) this.vars = new Map(this.live().dataVars().filter((v) => !v.name.startsWith('__bw_')).map((v) => [v.name, v]));
    return this.vars;
  }

  /**
   * Set `const volatile` globals by name before load: numbers are written at the variable's size
   * (1/2/4/8 bytes, little-endian), strings NUL-padded, Buffers verbatim.
   */
  setGlobals(values: Record<string, GlobalValue>): void {
    const h = this.requireSpec('setGlobals');
    for (const [name, value] of Object.entries(values)) {
      const v = this.globalVars().get(name);
      if (!v) throw new BoxwatchError('ERR_NOT_FOUND', `${this.source}: no global variable '${name}' (have: ${[...this.globalVars().keys()].join(', ')})`, { field: name });
      h.setInitialValue(v.section, v.offset, encodeGlobal(name, value, v.size));
    }
  }

  /** Load every program with autoload on into the kernel; the verifier log is in the error. */
  load(): void {
    const h = this.requireSpec('load');
    try {
      h.load();
    } catch (err) {
      throw wrapNativeError(err, `load ${this.source}`);
    }
    this.loadedFlag = true;
  }

  private requireLoaded(what: string): NativeBpfObject {
    const h = this.live();
    if (!this.loadedFlag) throw new BoxwatchError('ERR_STATE', `${what} needs a loaded object (call load() first)`);
    return h;
  }

  private mapInfo(name: string): NativeMapInfo {
    if (!this.mapInfos) this.mapInfos = new Map(this.requireLoaded(`map ${name}`).maps().map((m) => [m.name, m]));
    const info = this.mapInfos.get(name);
    if (!info) throw new BoxwatchError('ERR_NOT_FOUND', `${this.source}: no map named '${name}'`);
    return info;
  }

  /** A loaded map; raw Buffers unless codecs are given. */
  map(name: string): BpfMap<Buffer, Buffer>;
  map<K, V>(name: string, key: Codec<K>, value: Codec<V>): BpfMap<K, V>;
  map<K, V>(name: string, key?: Codec<K>, value?: Codec<V>): BpfMap<K, V> | BpfMap<Buffer, Buffer> {
    const info = this.mapInfo(name);
    const isOpen = () => this.handle !== null;
    return key && value ? new BpfMap(info, key, value, isOpen) : rawMap(info, isOpen);
  }

  hasMap(name: string): boolean {
    return this.live().maps().some((m) => m.name === name);
  }

  /** Verifier and run-time statistics of a loaded program. */
  programStats(program: string): NativeProgramStats {
    try {
      return this.requireLoaded(`programStats ${program}`).progInfo(program);
    } catch (err) {
      if (err instanceof BoxwatchError) throw err;
      throw wrapNativeError(err, `program ${program}`);
    }
  }

  /** Point slot `index` of a PROG_ARRAY map at `program` (tail calls). */
  setTailCall(progArray: string, index: number, program: string): void {
    const info = this.mapInfo(progArray);
    if (info.type !== MapType.PROG_ARRAY) throw new BoxwatchError('ERR_STATE', `map ${progArray} is not a PROG_ARRAY`);
    const fd = this.requireLoaded('setTailCall').progFd(program);
    if (fd < 0) throw new BoxwatchError('ERR_STATE', `program ${program} is not loaded (autoload off?)`);
    this.map(progArray, u32, u32).update(index, fd);
  }

  /** Remove slot `index` of a PROG_ARRAY map. */
  clearTailCall(progArray: string, index: number): void {
    this.map(progArray, u32, u32).delete(index);
  }

  /** Attach a loaded program (by section name unless options say otherwise). */
  attach(program: string, options?: AttachOptions): BpfLink {
    const h = this.requireLoaded(`attach ${program}`);
    let native: NativeLink;
    try {
      native = h.attach(program, options);
    } catch (err) {
      // The native message already says "attach <program>: <reason>".
      const e = wrapNativeError(err, this.source);
      if (e.errno === 2 /* ENOENT */ || e.errno === 95 /* EOPNOTSUPP */ || e.errno === 1 /* EPERM */) {
        throw new BoxwatchError('ERR_NOT_SUPPORTED', e.message, { feature: attachFeature(this.programs().find((p) => p.name === program)?.section), errno: e.errno, cause: err });
      }
      throw e;
    }
    const link = new BpfLink(program, native);
    this.links.add(link);
    return link;
  }

  /**
   * Read a ring buffer map. The lost-event counter `<map>_lost` (declared by BW_RINGBUF) is
   * picked up automatically.
   */
  ringBuffer(mapName: string, handler: RecordHandler, options: RingBufferOptions = {}): RingBufferReader {
    const info = this.mapInfo(mapName);
    if (info.type !== MapType.RINGBUF) throw new BoxwatchError('ERR_STATE', `map ${mapName} is not a ring buffer`);
    const lostName = `${mapName}_lost`;
    const lostCounter = options.lostCounter ?? (this.mapInfos?.has(lostName) ? this.map(lostName, u32, u64) : undefined);
    const idleName = `${mapName}_idle`;
    const idleFlagMapFd = options.idleFlagMapFd ?? (this.mapInfos?.has(idleName) ? this.mapInfo(idleName).fd : undefined);
    const reader = new RingBufferReader(mapName, info.fd, handler, { ...options, lostCounter, ...(idleFlagMapFd === undefined ? {} : { idleFlagMapFd }) });
    this.readers.add(reader);
    return reader;
  }

  /** Detach all links, close ring buffers, free kernel objects. Idempotent. */
  close(): void {
    for (const r of this.readers) r.close();
    this.readers.clear();
    for (const l of this.links) l.close();
    this.links.clear();
    if (this.handle) {
      this.handle.close();
      this.handle = null;
    }
  }
}

function attachFeature(section: string | undefined): string {
  const kind = section?.split('/')[0] ?? 'attach';
  return kind.replace(/^\?/, '');
}

function encodeGlobal(name: string, value: GlobalValue, size: number): Buffer {
  const buf = Buffer.alloc(size);
  const bad = (why: string) => new BoxwatchError('ERR_CONFIG', `global ${name}: ${why}`, { field: name });
  if (Buffer.isBuffer(value)) {
    if (value.length > size) throw bad(`${value.length} bytes do not fit its ${size}`);
    value.copy(buf);
  } else if (typeof value === 'string') {
    if (Buffer.byteLength(value) >= size) throw bad(`string longer than ${size - 1} bytes`);
    buf.write(value);
  } else if (typeof value === 'boolean') {
    buf.writeUInt8(value ? 1 : 0, 0);
  } else {
    const big = BigInt(value);
    const bits = BigInt(size * 8);
    const min = -(1n << (bits - 1n));
    const max = (1n << bits) - 1n;
    if (size > 8 || big < min || big > max) throw bad(`${value} does not fit ${size} bytes`);
    const unsigned = big < 0n ? (1n << bits) + big : big;
    for (let i = 0; i < size; i++) buf[i] = Number((unsigned >> BigInt(8 * i)) & 0xffn);
  }
  return buf;
}
