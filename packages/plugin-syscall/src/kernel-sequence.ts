/**
 * Kernel sequence filtering (`sequence: 'kernel'`, docs/stide-kernel.md): userspace half.
 *
 * Each watched container belongs to a profile (its image: `imageId ?? image ?? 'unknown'`, the
 * detector's profile key) and gets a counter slot; both travel to the kernel in the value of the
 * `watched` cgroup map. Per profile, a mode: `learn` (the kernel counts n-grams into `kseq_learn`,
 * drained here into `syscall.ngrams`), `detect` (the kernel looks n-grams up in `kseq_known`, filled
 * here from the learned model, and writes a `syscall.seq_mismatch` record only for the missing ones)
 * or `off`. Per container and CPU, match/mismatch counters, drained into `syscall.seq_stats`.
 */
import { codec, createEvent, UpdateFlags, type BpfMap, type ContainerInfo, type KnownContainer, type IEvent, type KernelClock } from '@boxwatch/core';
import { sc_kseq_counter as C, sc_kseq_key as K } from './generated/layout.js';
import type { ResolvedKernelSequence } from './options.js';
import type { WatchValue, WatchValueSource } from './watched.js';

export type KernelSequenceMode = 'off' | 'learn' | 'detect';
/** bpf/syscall.h SC_KSEQ_*. */
const MODE: Record<KernelSequenceMode, number> = { off: 0, learn: 1, detect: 2 };
/** SC_KSEQ_SLOTS in bpf/syscall.bpf.c (watched map and counter array size). */
export const KSEQ_SLOTS = 4096;
export const KSEQ_ID_BITS = 10;
const ID_BASE = 1 << KSEQ_ID_BITS;
const ID_MAX = ID_BASE - 1;

/**
 * The kernel's n-gram key of `ids` (oldest first): Σ min(id, 1023) · 1024^(n−1−i). It is the
 * detector STIDE model's `packed10` key (`packNgram`), so a learned model's keys go into the kernel
 * map unchanged. Exact for n ≤ 5 (50 bits).
 */
export function kernelNgramKey(ids: readonly number[]): number {
  let key = 0;
  for (const id of ids) key = key * ID_BASE + (id >>> 0 > ID_MAX ? ID_MAX : id >>> 0);
  return key;
}

/** One rolling step, as the kernel does it: drop the oldest id, append `id`. */
export function rollKernelNgramKey(key: number, id: number, n: number): number {
  const keep = ID_BASE ** (n - 1);
  return (key % keep) * ID_BASE + (id >>> 0 > ID_MAX ? ID_MAX : id >>> 0);
}

/** The ids of a key, oldest first. */
export function kernelNgramIds(key: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = key % ID_BASE;
    key = (key - out[i]!) / ID_BASE;
  }
  return out;
}

export interface KseqKey {
  ngram: bigint;
  profile: number;
}
export interface KseqCounter {
  matches: number;
  mismatches: number;
  learned: number;
  dropped: number;
}

export const kseqKeyCodec = codec.struct<KseqKey>(K.size, {
  ngram: [K.offsets.ngram, codec.u64],
  profile: [K.offsets.profile, codec.u32],
});
export const kseqCounterCodec = codec.struct<KseqCounter>(C.size, {
  matches: [C.offsets.matches, codec.u64n],
  mismatches: [C.offsets.mismatches, codec.u64n],
  learned: [C.offsets.learned, codec.u64n],
  dropped: [C.offsets.dropped, codec.u64n],
});

export interface KernelSequenceMaps {
  watched: BpfMap<bigint, WatchValue>;
  known: BpfMap<KseqKey, number>;
  learn: BpfMap<KseqKey, number>;
  counters: BpfMap<number, KseqCounter>;
}

interface Member {
  info: KnownContainer;
  cgroupId: bigint;
  slot: number;
  /** Counter totals at the previous drain. */
  last: KseqCounter;
}

interface Profile {
  id: number;
  image: string;
  mode: KernelSequenceMode;
  known: Set<number>;
  members: Map<string, Member>;
}

export interface KernelSequenceProfileInfo {
  image: string;
  id: number;
  mode: KernelSequenceMode;
  knownNgrams: number;
  containers: string[];
}

const ZERO: KseqCounter = { matches: 0, mismatches: 0, learned: 0, dropped: 0 };

/** The profile key of a container: the same as the detector's. */
export function profileKeyOf(info: ContainerInfo | null): string {
  return info?.imageId ?? info?.image ?? 'unknown';
}

export class KernelSequence implements WatchValueSource {
  private readonly byImage = new Map<string, Profile>();
  private readonly byId = new Map<number, Profile>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private nextProfile = 1;
  private lastDrain: bigint;
  /** Known-map inserts refused because the map is full. */
  knownFull = 0;
  /** Learn-map entries drained in total. */
  learnedKeys = 0;

  constructor(
    readonly options: ResolvedKernelSequence,
    private readonly maps: KernelSequenceMaps,
    private readonly host: string,
    private readonly clock: KernelClock,
  ) {
    this.lastDrain = clock.now();
  }

  private profile(image: string): Profile {
    let p = this.byImage.get(image);
    if (!p) {
      p = { id: this.nextProfile++, image, mode: this.options.initialMode, known: new Set(), members: new Map() };
      this.byImage.set(image, p);
      this.byId.set(p.id, p);
    }
    return p;
  }

  imageOf(profileId: number): string | undefined {
    return this.byId.get(profileId)?.image;
  }

  /** WatchValueSource: a container starts being watched. */
  valueFor(info: KnownContainer, cgroupId: bigint): WatchValue {
    const p = this.profile(profileKeyOf(info));
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    if (slot >= KSEQ_SLOTS) throw new Error(`kernel sequence filtering: more than ${KSEQ_SLOTS} watched containers`);
    this.maps.counters.updatePerCpu(slot, ZERO);
    p.members.set(info.id, { info, cgroupId, slot, last: { ...ZERO } });
    return { profile: p.id, slot, mode: MODE[p.mode] };
  }

  /** WatchValueSource: a container stopped being watched. */
  removed(info: KnownContainer): void {
    for (const p of this.byImage.values()) {
      const m = p.members.get(info.id);
      if (m) {
        p.members.delete(info.id);
        this.freeSlots.push(m.slot);
      }
    }
  }

  /** Switch a profile's mode (every container of the image, at once). */
  setMode(image: string, mode: KernelSequenceMode): void {
    if (!(mode in MODE)) throw new Error(`unknown kernel sequence mode ${mode}`);
    const p = this.profile(image);
    p.mode = mode;
    for (const m of p.members.values()) this.maps.watched.update(m.cgroupId, { profile: p.id, slot: m.slot, mode: MODE[mode] });
  }

  /**
   * Add n-gram keys (the STIDE model's packed10 keys, `kernelNgramKey`) to a profile's known set.
   * Returns how many were new; keys that do not fit (map full) are counted in `knownFull`.
   */
  addKnown(image: string, keys: Iterable<number>): number {
    const p = this.profile(image);
    let added = 0;
    for (const key of keys) {
      if (p.known.has(key)) continue;
      if (!Number.isSafeInteger(key) || key < 0) throw new Error(`n-gram key ${key} is not a packed10 key`);
      try {
        this.maps.known.update({ ngram: BigInt(key), profile: p.id }, 1, UpdateFlags.ANY);
      } catch (err) {
        this.knownFull++;
        if (this.knownFull === 1) throw err;
        continue;
      }
      p.known.add(key);
      added++;
    }
    return added;
  }

  /** Remove every known n-gram of a profile. */
  clearKnown(image: string): void {
    const p = this.byImage.get(image);
    if (!p) return;
    for (const key of p.known) this.maps.known.delete({ ngram: BigInt(key), profile: p.id });
    p.known.clear();
  }

  profiles(): KernelSequenceProfileInfo[] {
    return [...this.byImage.values()].map((p) => ({
      image: p.image,
      id: p.id,
      mode: p.mode,
      knownNgrams: p.known.size,
      containers: [...p.members.keys()],
    }));
  }

  /** Counter totals of one watched container (summed over CPUs), or undefined. */
  totals(containerId: string): KseqCounter | undefined {
    for (const p of this.byImage.values()) {
      const m = p.members.get(containerId);
      if (m) return this.read(m.slot);
    }
    return undefined;
  }

  private read(slot: number): KseqCounter {
    const t = { ...ZERO };
    for (const c of this.maps.counters.lookupPerCpu(slot) ?? []) {
      t.matches += c.matches;
      t.mismatches += c.mismatches;
      t.learned += c.learned;
      t.dropped += c.dropped;
    }
    return t;
  }

  /**
   * Drain learn counts into one `syscall.ngrams` event per profile and the counters into one
   * `syscall.seq_stats` event per watched container (only those whose counters moved).
   */
  drain(): IEvent[] {
    const now = this.clock.now();
    const time = this.clock.toDate(now);
    const intervalMs = Number((now - this.lastDrain) / 1_000_000n);
    this.lastDrain = now;
    const events: IEvent[] = [];
    const header = (p: Profile, m: Member | undefined) => ({
      time,
      ts: now,
      host: this.host,
      container: m?.info ?? null,
      cgroupId: m?.cgroupId ?? 0n,
      pid: 0,
      tid: 0,
      comm: '',
    });

    const learned = new Map<number, Map<number, number>>();
    for (const [key, perCpu] of this.maps.learn.drainBatch()) {
      const count = perCpu.reduce((a, b) => a + b, 0);
      if (count === 0) continue;
      let m = learned.get(key.profile);
      if (!m) learned.set(key.profile, (m = new Map()));
      const k = Number(key.ngram);
      m.set(k, (m.get(k) ?? 0) + count);
      this.learnedKeys++;
    }
    const n = this.options.n;
    for (const [profileId, counts] of learned) {
      const p = this.byId.get(profileId);
      if (!p) continue;
      const ngrams = [...counts].map(([key, count]) => ({ key, ids: kernelNgramIds(key, n), count }));
      events.push(createEvent('syscall.ngrams', header(p, p.members.values().next().value), { image: p.image, n, ngrams }));
    }

    for (const p of this.byImage.values()) {
      for (const m of p.members.values()) {
        const t = this.read(m.slot);
        const d = { matches: t.matches - m.last.matches, mismatches: t.mismatches - m.last.mismatches, learned: t.learned - m.last.learned, dropped: t.dropped - m.last.dropped };
        m.last = t;
        if (d.matches === 0 && d.mismatches === 0 && d.learned === 0 && d.dropped === 0) continue;
        events.push(
          createEvent('syscall.seq_stats', header(p, m), {
            image: p.image,
            mode: p.mode,
            ...d,
            matches_total: t.matches,
            mismatches_total: t.mismatches,
            interval_ms: intervalMs,
          }),
        );
      }
    }
    return events;
  }
}
