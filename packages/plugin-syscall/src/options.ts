import { configError, resolveRingBufferTuning, type RingBufferTuning } from '@boxwatch/core';
import { DETAIL_SPECS, DETAIL_SYSCALLS } from './detail-specs.js';
import { hostArch, SyscallTable, type Arch } from './syscall-table.js';

export interface SyscallPluginOptions {
  /** Containers to watch: 'all' (default) or a list of container ids (full or 12+ hex prefix) or names. */
  watch?: 'all' | readonly string[];
  /** Also count and report processes of the host (initial pid namespace). Default false. */
  hostProcesses?: boolean;
  /** How often the in-kernel counters are drained into `syscall.count` events. Default 10000. */
  drainIntervalMs?: number;
  /** Syscalls that get `syscall.<name>` detail events. Default: every supported one. [] for none. */
  detail?: readonly string[];
  /**
   * Opt-in sequence data for the STIDE model. Needs a `watch` list. Default false.
   * - `true`: `syscall.seq` events (every syscall id of every watched thread streamed to userspace);
   * - `'kernel'`: in-kernel n-gram filtering (docs/stide-kernel.md): `syscall.ngrams` (learn mode),
   *   `syscall.seq_mismatch` (detect mode, only n-grams missing from the profile) and `syscall.seq_stats`.
   */
  sequence?: boolean | 'kernel';
  /** Settings of `sequence: 'kernel'`. */
  kernelSequence?: KernelSequenceOptions;
  /** `process.exec` / `process.fork` / `process.exit` events. Default true. */
  processEvents?: boolean;
  /** Capacity of the (container, pid, syscall) counter map (LRU beyond it). Default 16384. */
  maxCounterKeys?: number;
  /** Syscall numbering to use. Default: this machine's. */
  arch?: Arch;
  /** How this plugin's ring buffers are read (staging buffer size, real-time drain thread): core's RingBufferTuning. */
  ringBuffer?: RingBufferTuning;
}

export interface KernelSequenceOptions {
  /** n-gram length, 1..5 (default 5); must equal the STIDE model's n. */
  n?: number;
  /** Mode of a profile (image) the first time one of its containers is watched. Default 'learn'. */
  initialMode?: 'off' | 'learn' | 'detect';
  /** Capacity of the known n-gram map, all profiles together. Default 262144. */
  maxKnownNgrams?: number;
  /** Capacity of the learn-mode count map between drains, all profiles together. Default 65536. */
  maxLearnKeys?: number;
  /** How often learn counts and match counters are drained into events. Default 1000. */
  drainIntervalMs?: number;
}

export interface ResolvedKernelSequence {
  n: number;
  initialMode: 'off' | 'learn' | 'detect';
  maxKnownNgrams: number;
  maxLearnKeys: number;
  drainIntervalMs: number;
}

export interface ResolvedOptions {
  watch: 'all' | string[];
  hostProcesses: boolean;
  drainIntervalMs: number;
  /** Detail syscalls with their ids on `arch`. */
  detail: Array<{ name: string; id: number }>;
  /** Userspace sequence mode (`syscall.seq`). */
  sequence: boolean;
  /** Kernel sequence filtering, or null. */
  kernelSequence: ResolvedKernelSequence | null;
  processEvents: boolean;
  maxCounterKeys: number;
  arch: Arch;
  ringBuffer: RingBufferTuning;
}

const KNOWN = new Set(['watch', 'hostProcesses', 'drainIntervalMs', 'detail', 'sequence', 'kernelSequence', 'processEvents', 'maxCounterKeys', 'arch', 'ringBuffer']);
const KSEQ_KNOWN = new Set(['n', 'initialMode', 'maxKnownNgrams', 'maxLearnKeys', 'drainIntervalMs']);

function intIn(field: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw configError(field, `must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function resolveKernelSequence(input: unknown): ResolvedKernelSequence {
  const o = (input ?? {}) as KernelSequenceOptions;
  if (typeof o !== 'object' || Array.isArray(o)) throw configError('kernelSequence', 'must be an object');
  for (const key of Object.keys(o)) {
    if (!KSEQ_KNOWN.has(key)) throw configError(`kernelSequence.${key}`, `unknown option (known: ${[...KSEQ_KNOWN].join(', ')})`);
  }
  const initialMode = o.initialMode ?? 'learn';
  if (!['off', 'learn', 'detect'].includes(initialMode)) {
    throw configError('kernelSequence.initialMode', `must be 'off', 'learn' or 'detect', got ${JSON.stringify(o.initialMode)}`);
  }
  const drainIntervalMs = o.drainIntervalMs ?? 1000;
  if (typeof drainIntervalMs !== 'number' || !Number.isFinite(drainIntervalMs) || drainIntervalMs <= 0) {
    throw configError('kernelSequence.drainIntervalMs', `must be a positive number of milliseconds, got ${JSON.stringify(o.drainIntervalMs)}`);
  }
  return {
    // Keys are packed 10 bits per id: n <= 5 keeps them exact in a JS number (and equal to the
    // detector's packed10 keys).
    n: intIn('kernelSequence.n', o.n, 5, 1, 5),
    initialMode,
    maxKnownNgrams: intIn('kernelSequence.maxKnownNgrams', o.maxKnownNgrams, 262_144, 64, 1 << 24),
    maxLearnKeys: intIn('kernelSequence.maxLearnKeys', o.maxLearnKeys, 65_536, 64, 1 << 22),
    drainIntervalMs,
  };
}

function bool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw configError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Validate options; every problem is an ERR_CONFIG naming the field. */
export function resolveOptions(input: SyscallPluginOptions = {}): ResolvedOptions {
  if (input === null || typeof input !== 'object') throw configError('options', 'must be an object');
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) throw configError(key, `unknown option (known: ${[...KNOWN].join(', ')})`);
  }

  let watch: ResolvedOptions['watch'] = 'all';
  if (input.watch !== undefined && input.watch !== 'all') {
    if (!Array.isArray(input.watch)) throw configError('watch', `must be 'all' or a list of container ids or names`);
    watch = input.watch.map((w, i) => {
      if (typeof w !== 'string' || w.trim() === '') throw configError(`watch[${i}]`, 'must be a non-empty container id or name');
      return w.trim().replace(/^\//, '');
    });
    if (watch.length === 0) throw configError('watch', `an empty list watches nothing; use 'all' or name containers`);
  }

  const drainIntervalMs = input.drainIntervalMs ?? 10_000;
  if (typeof drainIntervalMs !== 'number' || !Number.isFinite(drainIntervalMs) || drainIntervalMs <= 0) {
    throw configError('drainIntervalMs', `must be a positive number of milliseconds, got ${JSON.stringify(input.drainIntervalMs)}`);
  }

  const maxCounterKeys = input.maxCounterKeys ?? 16384;
  if (!Number.isInteger(maxCounterKeys) || maxCounterKeys < 64 || maxCounterKeys > 1 << 22) {
    throw configError('maxCounterKeys', `must be an integer between 64 and ${1 << 22}, got ${JSON.stringify(input.maxCounterKeys)}`);
  }

  let arch: Arch;
  if (input.arch === undefined) arch = hostArch();
  else if (input.arch === 'x86_64' || input.arch === 'arm64') arch = input.arch;
  else throw configError('arch', `must be 'x86_64' or 'arm64', got ${JSON.stringify(input.arch)}`);
  const table = new SyscallTable(arch);

  const names = input.detail ?? DETAIL_SYSCALLS;
  if (!Array.isArray(names)) throw configError('detail', 'must be a list of syscall names');
  const detail: ResolvedOptions['detail'] = [];
  for (const name of new Set(names)) {
    if (typeof name !== 'string' || !DETAIL_SPECS[name]) {
      throw configError('detail', `unknown or unsupported syscall ${JSON.stringify(name)} (supported: ${DETAIL_SYSCALLS.join(', ')})`);
    }
    const id = table.id(name);
    // Legacy syscalls such as mkdir and chmod do not exist on arm64 (only their *at forms).
    if (id !== undefined) detail.push({ name, id });
  }

  const seqOpt = input.sequence ?? false;
  if (seqOpt !== true && seqOpt !== false && seqOpt !== 'kernel') {
    throw configError('sequence', `must be true, false or 'kernel', got ${JSON.stringify(input.sequence)}`);
  }
  if (seqOpt !== false && watch === 'all') {
    throw configError('sequence', 'sequence mode works per watched container, so it needs a `watch` list of containers');
  }
  if (input.kernelSequence !== undefined && seqOpt !== 'kernel') {
    throw configError('kernelSequence', "only applies with sequence: 'kernel'");
  }
  const sequence = seqOpt === true;
  const kernelSequence = seqOpt === 'kernel' ? resolveKernelSequence(input.kernelSequence) : null;

  return {
    watch,
    hostProcesses: bool('hostProcesses', input.hostProcesses, false),
    drainIntervalMs,
    detail,
    sequence,
    kernelSequence,
    processEvents: bool('processEvents', input.processEvents, true),
    maxCounterKeys,
    arch,
    ringBuffer: resolveRingBufferTuning(input.ringBuffer),
  };
}
