/**
 * STIDE (sequence time-delay embedding, Forrest/Hofmeyr et al.): the image's normal database is the set
 * of length-n syscall windows seen per thread during learning. While detecting, every new n-gram of a
 * thread that is not in the database is a mismatch; the container's anomaly signal is the number of
 * mismatches among its last W n-grams (W default 1000). The threshold is the largest such count seen on
 * the validation part of the learning period (n-grams learned before it, scored like detection).
 *
 * n-grams are stored by a stable 64-bit hash so a later step can push the database into a BPF hash map:
 *
 *   hash = FNV-1a 64 over the n syscall ids, oldest first, each encoded as 4 bytes little-endian (u32)
 *   (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
 *
 * `ngramHash()` returns it as a bigint. In memory the set keys are the low 53 bits of the same hash
 * (a JS number; with the database sizes of one image, a 53-bit collision is negligible).
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

export interface StideProfile {
  n: number;
  window: number;
  ngrams: Set<number>;
  /** n-grams first seen during validation, merged into `ngrams` when learning ends. */
  pending: Set<number>;
  /** Largest window mismatch count seen on validation data; the alert threshold. */
  threshold: number;
}

export function newStideProfile(opts: StideOptions = {}): StideProfile {
  return { n: opts.n ?? 5, window: opts.window ?? 1000, ngrams: new Set(), pending: new Set(), threshold: 0 };
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
  ring: Int32Array;
  /** Next write position. */
  pos: number;
  filled: number;
}

interface WindowState {
  flags: Uint8Array;
  pos: number;
  mismatches: number;
  /** True while above threshold (alert once per excursion). */
  alerting: boolean;
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
      t = { ring: new Int32Array(n), pos: 0, filled: 0 };
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
    for (let i = 0; i < syscalls.length; i++) {
      t.ring[t.pos] = syscalls[i]!;
      t.pos = (t.pos + 1) % n;
      if (t.filled < n) t.filled++;
      if (t.filled < n) continue;
      // After the write, t.pos is the oldest element of the ring.
      const key = hashRing(t.ring, t.pos, n);
      if (phase === 'learning') {
        if (profile.ngrams.size < this.maxNgrams) profile.ngrams.add(key);
        continue;
      }
      const miss = profile.ngrams.has(key) ? 0 : 1;
      w = w!;
      w.mismatches += miss - w.flags[w.pos]!;
      w.flags[w.pos] = miss;
      w.pos = (w.pos + 1) % w.flags.length;
      if (phase === 'validating') {
        if (w.mismatches > profile.threshold) profile.threshold = w.mismatches;
        if (miss) profile.pending.add(key);
        continue;
      }
      if (w.mismatches > profile.threshold) {
        if (!w.alerting) {
          w.alerting = true;
          report({
            model: 'syscall-sequence',
            key: 'stide',
            message: `unseen syscall sequences: ${w.mismatches} mismatching ${n}-grams in the last ${w.flags.length} (threshold ${profile.threshold})`,
            priority: 'warning',
            tags: ['model', 'syscall', 'sequence'],
            event,
            details: { mismatches: w.mismatches, threshold: profile.threshold, window: w.flags.length, n },
          });
        }
      } else {
        w.alerting = false;
      }
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
