/**
 * STIDE (sequence time-delay embedding, Forrest/Hofmeyr et al.): the image's normal database is the set
 * of length-n syscall windows seen per thread during learning. While detecting, every new n-gram of a
 * thread that is not in the database is a mismatch; the container's anomaly signal is the number of
 * mismatches among its last W n-grams (W default 1000). The threshold is the largest such count seen on
 * the validation part of the learning period (n-grams learned before it, scored like detection).
 *
 * Keys (encoding `packed10`, n ≤ 5, the default): the n ids packed 10 bits each, oldest first,
 * `key = Σ min(id, 1023) · 1024^(n-1-i)` — exact (no collisions) for ids below 1023 (every x86_64 / arm64
 * syscall), reversible (`unpackNgram`), and rolled in O(1) per syscall: `key = (key mod 1024^(n-1)) · 1024 + id`.
 * That replaced an FNV-1a 64 computed per syscall over 20 bytes in double arithmetic (20 % of the detector's
 * CPU in the benchmark). Ids ≥ 1023 (x32 ABI, bogus) share the value 1023.
 *
 * Encoding `fnv` (n > 5, and model files of version 1): the low 53 bits of FNV-1a 64 over the n ids,
 * oldest first, each encoded as 4 bytes little-endian (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3), `ngramKey()`. `ngramHash()` gives the full 64-bit FNV for BPF maps and tools; for a
 * packed key use `ngramHash(unpackNgram(key, n))`.
 */
import type { IEvent } from '@boxwatch/core';
import type { Phase, Report } from './types.js';

export interface StideOptions {
  /** n-gram length (default 5). */
  n?: number;
  /** Mismatch window length in n-grams (default 1000). */
  window?: number;
  /** Largest n-gram database per image (default 200,000). */
  maxNgrams?: number;
}

export type StideEncoding = 'packed10' | 'fnv';

export interface StideProfile {
  n: number;
  /** How n-grams are keyed (see the file comment). */
  encoding: StideEncoding;
  window: number;
  ngrams: Set<number>;
  /** n-grams first seen during validation, merged into `ngrams` when learning ends. */
  pending: Set<number>;
  /** Largest window mismatch count seen on validation data; the alert threshold. */
  threshold: number;
}

export function newStideProfile(opts: StideOptions = {}): StideProfile {
  const n = opts.n ?? 5;
  return { n, encoding: n <= PACK_MAX_N ? 'packed10' : 'fnv', window: opts.window ?? 1000, ngrams: new Set(), pending: new Set(), threshold: 0 };
}

const PACK_BITS = 10;
const PACK_BASE = 1 << PACK_BITS;
const PACK_MAX_ID = PACK_BASE - 1;
/** 5 × 10 bits = 50 bits: exact in a double. */
const PACK_MAX_N = 5;

/** The packed10 key of n ids, oldest first. */
export function packNgram(ids: readonly number[]): number {
  let key = 0;
  for (const id of ids) key = key * PACK_BASE + (id >>> 0 > PACK_MAX_ID ? PACK_MAX_ID : id >>> 0);
  return key;
}

/** The ids of a packed10 key (ids ≥ 1023 come back as 1023). */
export function unpackNgram(key: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = key % PACK_BASE;
    key = (key - out[i]!) / PACK_BASE;
  }
  return out;
}

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
const TWO32 = 4294967296;

/** FNV-1a 64 over `n` u32 ids read from a ring buffer; returns the low 53 bits as a number. */
function hashRing(ring: Int32Array, start: number, n: number): number {
  let hi = FNV_OFFSET_HI;
  let lo = FNV_OFFSET_LO;
  for (let i = 0; i < n; i++) {
    const id = ring[(start + i) % n]! >>> 0;
    for (let b = 0; b < 4; b++) {
      lo = (lo ^ ((id >>> (8 * b)) & 0xff)) >>> 0;
      // (hi:lo) * (2^40 + 0x1b3) mod 2^64, in 32-bit halves with exact double arithmetic.
      const plo = lo * 0x1b3;
      const carry = Math.floor(plo / TWO32);
      const nhi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) % TWO32;
      lo = plo % TWO32;
      hi = nhi;
    }
  }
  return (hi & 0x1fffff) * TWO32 + lo;
}

/** The documented 64-bit n-gram hash (for BPF maps and tools), computed with BigInt. */
export function ngramHash(syscalls: readonly number[]): bigint {
  let h = 0xcbf29ce484222325n;
  const mask = (1n << 64n) - 1n;
  for (const id of syscalls) {
    const u = id >>> 0;
    for (let b = 0; b < 4; b++) {
      h ^= BigInt((u >>> (8 * b)) & 0xff);
      h = (h * 0x100000001b3n) & mask;
    }
  }
  return h;
}

/** Low 53 bits of ngramHash: the key the in-memory database uses. */
export function ngramKey(syscalls: readonly number[]): number {
  return Number(ngramHash(syscalls) & ((1n << 53n) - 1n));
}

interface ThreadState {
  /** Last n ids (fnv encoding). */
  ring: Int32Array;
  /** Next write position. */
  pos: number;
  filled: number;
  /** Rolling packed10 key of the last n ids. */
  key: number;
}

export interface WindowState {
  flags: Uint8Array;
  pos: number;
  mismatches: number;
  /** True while above threshold (alert once per excursion). */
  alerting: boolean;
}

/**
 * One n-gram into a container's sliding window of mismatch flags (shared by the userspace and the
 * in-kernel paths, which must raise the same alerts): in validation it raises the threshold and
 * remembers unseen n-grams; in detection it alerts once per excursion above the threshold.
 */
export function pushNgram(profile: StideProfile, w: WindowState, miss: 0 | 1, key: number, event: IEvent, phase: Phase, report: Report): void {
  w.mismatches += miss - w.flags[w.pos]!;
  w.flags[w.pos] = miss;
  w.pos = (w.pos + 1) % w.flags.length;
  if (phase === 'validating') {
    if (w.mismatches > profile.threshold) profile.threshold = w.mismatches;
    if (miss) profile.pending.add(key);
    return;
  }
  if (w.mismatches <= profile.threshold) {
    w.alerting = false;
    return;
  }
  if (w.alerting) return;
  w.alerting = true;
  report({
    model: 'syscall-sequence',
    key: 'stide',
    message: `unseen syscall sequences: ${w.mismatches} mismatching ${profile.n}-grams in the last ${w.flags.length} (threshold ${profile.threshold})`,
    priority: 'warning',
    tags: ['model', 'syscall', 'sequence'],
    event,
    details: { mismatches: w.mismatches, threshold: profile.threshold, window: w.flags.length, n: profile.n },
  });
}

export class StideModel {
  private readonly threads = new Map<number, ThreadState>();
  private readonly windows = new Map<string, WindowState>();
  private readonly maxNgrams: number;
  private readonly maxThreads = 100_000;

  constructor(opts: StideOptions = {}) {
    this.maxNgrams = opts.maxNgrams ?? 200_000;
  }

  observe(profile: StideProfile, containerKey: string, event: IEvent, phase: Phase, report: Report): void {
    const syscalls = (event as unknown as { syscalls?: number[] }).syscalls;
    if (!Array.isArray(syscalls) || syscalls.length === 0) return;
    const n = profile.n;
    let t = this.threads.get(event.tid);
    if (!t || t.ring.length !== n) {
      t = { ring: new Int32Array(n), pos: 0, filled: 0, key: 0 };
      if (this.threads.size >= this.maxThreads) this.threads.delete(this.threads.keys().next().value as number);
      this.threads.set(event.tid, t);
    }
    let w: WindowState | undefined;
    if (phase !== 'learning') {
      w = this.windows.get(containerKey);
      if (!w || w.flags.length !== profile.window) {
        w = { flags: new Uint8Array(profile.window), pos: 0, mismatches: 0, alerting: false };
        this.windows.set(containerKey, w);
      }
    }
    const packed = profile.encoding === 'packed10';
    // Dropping the oldest id of a packed key: key mod 1024^(n-1).
    const keep = PACK_BASE ** (n - 1);
    for (let i = 0; i < syscalls.length; i++) {
      const id = syscalls[i]!;
      let key: number;
      if (packed) {
        const u = id >>> 0;
        t.key = (t.key % keep) * PACK_BASE + (u > PACK_MAX_ID ? PACK_MAX_ID : u);
        if (t.filled < n) t.filled++;
        if (t.filled < n) continue;
        key = t.key;
      } else {
        t.ring[t.pos] = id;
        t.pos = (t.pos + 1) % n;
        if (t.filled < n) t.filled++;
        if (t.filled < n) continue;
        // After the write, t.pos is the oldest element of the ring.
        key = hashRing(t.ring, t.pos, n);
      }
      if (phase === 'learning') {
        if (profile.ngrams.size < this.maxNgrams) profile.ngrams.add(key);
        continue;
      }
      pushNgram(profile, w!, profile.ngrams.has(key) ? 0 : 1, key, event, phase, report);
    }
  }

  /** End of learning: the validation n-grams join the database; the threshold stays what validation measured. */
  finish(profile: StideProfile): void {
    for (const k of profile.pending) if (profile.ngrams.size < this.maxNgrams) profile.ngrams.add(k);
    profile.pending.clear();
    // Detection windows start empty: validation mismatches must not count against live traffic.
    this.windows.clear();
  }

  forgetThread(tid: number): void {
    this.threads.delete(tid);
  }
}
