/**
 * The raw native binding (native/*.cc), typed. Nothing outside packages/core/src should import
 * this module: BpfObject, BpfMap and RingBufferReader are the public surface.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
  fd: number;
}

export interface NativeMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  fd: number;
}

export interface NativeDataVar {
  name: string;
  section: string;
  offset: number;
  size: number;
}

export interface NativeAttachOptions {
  kind?: 'auto' | 'kprobe' | 'tracepoint' | 'raw_tp' | 'cgroup';
  target?: string;
  retprobe?: boolean;
  cgroupPath?: string;
}

export interface NativeProgramStats {
  /** Instructions the verifier processed (the load-time cost of the program). */
  verifiedInsns: number;
  xlatedLen: number;
  jitedLen: number;
  /** Cumulative run time and count; collected only while kernel.bpf_stats_enabled=1. */
  runTimeNs: number;
  runCnt: number;
  /** Runs the kernel skipped because the program was already active on that CPU. */
  recursionMisses: number;
}

export interface NativeLink {
  close(): void;
  fd(): number;
}

export interface NativeBpfObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  setAutoload(program: string, autoload: boolean): void;
  dataVars(): NativeDataVar[];
  setInitialValue(mapName: string, offset: number, bytes: Buffer): void;
  setMapMaxEntries(mapName: string, maxEntries: number): void;
  load(): void;
  mapFd(name: string): number;
  progFd(name: string): number;
  progInfo(name: string): NativeProgramStats;
  attach(program: string, options?: NativeAttachOptions): NativeLink;
  close(): void;
}

export interface NativeRingBuffer {
  pause(): void;
  resume(): void;
  drain(maxSlices?: number): number;
  close(): void;
  stats(): { records: number; batches: number; wakeups: number; slicesDeferred: number; stagingBytes: number; realtimeDrain: boolean; idleSpells: number; stagingFull: number };
}

/** Errors thrown by the binding carry the errno and, for loads, libbpf's log. */
export interface NativeError extends Error {
  errno?: number;
  libbpfLog?: string;
  verifierLog?: string;
}

export interface NativeBinding {
  libbpfVersion(): string;
  numPossibleCpus(): number;
  probeMapType(type: number): number;
  probeHelper(progType: number, helperId: number): number;
  BpfObject: new (source: string | Buffer, name?: string) => NativeBpfObject;
  RingBuffer: new (
    mapFd: number,
    /** Committed records are buffer[start, end) in the kernel's framing; `records` excludes discarded ones. */
    onBatch: (buffer: ArrayBuffer, start: number, end: number, records: number) => void,
    options: { drainMs: number; maxRecordsPerSlice: number; stagingBytes?: number; realtimeDrain: boolean; idleMapFd?: number },
  ) => NativeRingBuffer;
  mapLookup(fd: number, key: Buffer, valueOut: Buffer, flags?: number): boolean;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, nextOut: Buffer): boolean;
  mapBatch(
    op: 'lookup' | 'lookupAndDelete',
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: number,
  ): { count: number; done: boolean };
}

/** Package root: src/ and dist/ are both one level below it. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

let binding: NativeBinding | undefined;

/** Load the addon once (prebuilds/ first, then build/Release, via node-gyp-build). */
export function native(): NativeBinding {
  if (!binding) {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => NativeBinding;
    binding = load(PACKAGE_ROOT);
  }
  return binding;
}
