/**
 * A reference implementation, in TypeScript, of what plugin-syscall's kernel sequence filter does in
 * detect mode (bpf/syscall.bpf.c kseq_step): replays recorded `syscall.seq` events (userspace sequence
 * mode) into the `syscall.seq_mismatch` events the kernel would have written and the container's
 * match total. Tests use it to check the kernel against a recorded stream, and the kernel path of
 * STIDE against the userspace one on the same stream.
 */
import { containerKey as containerKeyOf, createEvent, type IEvent } from '@boxwatch/core';
import { unpackNgram } from './stide.js';

const BASE = 1024;

export interface SimulatedKernel {
  /** seq_mismatch events, in the order the kernel would emit them for this stream. */
  events: IEvent[];
  /** Matching n-grams per container key (the kernel's per-container counters). */
  matches: Map<string, number>;
  /** The learn-mode view: every n-gram key with its count. */
  learned: Map<number, number>;
}

export function simulateKernelFilter(seq: readonly IEvent[], known: ReadonlySet<number>, n: number, containerKey: (e: IEvent) => string = containerKeyOf): SimulatedKernel {
  const threads = new Map<number, { key: number; filled: number; gap: number }>();
  const keep = BASE ** (n - 1);
  const events: IEvent[] = [];
  const matches = new Map<string, number>();
  const learned = new Map<number, number>();
  for (const e of seq) {
    const ids = (e as unknown as { syscalls: number[] }).syscalls;
    let t = threads.get(e.tid);
    if (!t) threads.set(e.tid, (t = { key: 0, filled: 0, gap: 0 }));
    for (const id of ids) {
      t.key = (t.key % keep) * BASE + Math.min(id >>> 0, BASE - 1);
      if (t.filled < n) t.filled++;
      if (t.filled < n) continue;
      learned.set(t.key, (learned.get(t.key) ?? 0) + 1);
      if (known.has(t.key)) {
        t.gap++;
        const c = containerKey(e);
        matches.set(c, (matches.get(c) ?? 0) + 1);
        continue;
      }
      events.push(createEvent('syscall.seq_mismatch', e, { syscalls: unpackNgram(t.key, n), ngram: t.key, gap: t.gap, image: null }));
      t.gap = 0;
    }
  }
  return { events, matches, learned };
}

/**
 * A streaming TypeScript reference of the whole kernel side (learn and detect modes, per-image known
 * sets, per-container counters) that a ModelSet can drive like the real plugin: `KernelSequenceControl`
 * on one side, recorded `syscall.seq` events in (`feed`) and the plugin's events out (`feed` returns
 * the mismatch records, `drain` the `syscall.ngrams` and `syscall.seq_stats` events). Thread state
 * persists across events and modes, as the kernel's task storage does.
 */
export class KernelFilterSim {
  private readonly threads = new Map<number, { key: number; filled: number; gap: number }>();
  private readonly modes = new Map<string, 'off' | 'learn' | 'detect'>();
  private readonly known = new Map<string, Set<number>>();
  private readonly learnCounts = new Map<string, Map<number, number>>();
  private readonly counters = new Map<string, { image: string; header: IEvent; matches: number; mismatches: number; learned: number; reported: number }>();
  private readonly keep: number;

  constructor(
    readonly n = 5,
    private readonly initialMode: 'off' | 'learn' | 'detect' = 'learn',
    private readonly profileOf: (e: IEvent) => string = (e) => e.container?.imageId ?? e.container?.image ?? 'unknown',
  ) {
    this.keep = BASE ** (n - 1);
  }

  modeOf(image: string): 'off' | 'learn' | 'detect' {
    return this.modes.get(image) ?? this.initialMode;
  }

  knownOf(image: string): ReadonlySet<number> {
    return this.known.get(image) ?? new Set();
  }

  setSequenceMode(image: string, mode: 'off' | 'learn' | 'detect'): void {
    this.modes.set(image, mode);
  }

  addKnownNgrams(image: string, keys: Iterable<number>): number {
    let set = this.known.get(image);
    if (!set) this.known.set(image, (set = new Set()));
    let added = 0;
    for (const k of keys) {
      if (set.has(k)) continue;
      set.add(k);
      added++;
    }
    return added;
  }

  /** One recorded `syscall.seq` event through the filter; returns the mismatch records it makes. */
  feed(e: IEvent): IEvent[] {
    const image = this.profileOf(e);
    const mode = this.modeOf(image);
    const known = this.knownOf(image);
    const cid = containerKeyOf(e);
    let c = this.counters.get(cid);
    if (!c) this.counters.set(cid, (c = { image, header: e, matches: 0, mismatches: 0, learned: 0, reported: -1 }));
    c.header = e;
    let t = this.threads.get(e.tid);
    if (!t) this.threads.set(e.tid, (t = { key: 0, filled: 0, gap: 0 }));
    const out: IEvent[] = [];
    for (const id of (e as unknown as { syscalls: number[] }).syscalls) {
      t.key = (t.key % this.keep) * BASE + Math.min(id >>> 0, BASE - 1);
      if (t.filled < this.n) t.filled++;
      if (t.filled < this.n || mode === 'off') continue;
      if (mode === 'learn') {
        let m = this.learnCounts.get(image);
        if (!m) this.learnCounts.set(image, (m = new Map()));
        m.set(t.key, (m.get(t.key) ?? 0) + 1);
        c.learned++;
        continue;
      }
      if (known.has(t.key)) {
        t.gap++;
        c.matches++;
        continue;
      }
      c.mismatches++;
      out.push(createEvent('syscall.seq_mismatch', e, { syscalls: unpackNgram(t.key, this.n), ngram: t.key, gap: t.gap, image }));
      t.gap = 0;
    }
    return out;
  }

  /** The plugin's drain at `time`: one `syscall.ngrams` per image with learn counts, one
   * `syscall.seq_stats` per container (every container seen, moved or not: a tick for the model). */
  drain(time: Date): IEvent[] {
    const out: IEvent[] = [];
    const at = (h: IEvent) => ({ ...h, time, pid: 0, tid: 0, comm: '' });
    for (const [image, counts] of this.learnCounts) {
      const member = [...this.counters.values()].find((c) => c.image === image);
      if (!member || counts.size === 0) continue;
      out.push(createEvent('syscall.ngrams', at(member.header), { image, n: this.n, ngrams: [...counts].map(([key, count]) => ({ key, ids: unpackNgram(key, this.n), count })) }));
    }
    this.learnCounts.clear();
    for (const c of this.counters.values()) {
      out.push(createEvent('syscall.seq_stats', at(c.header), { image: c.image, mode: this.modeOf(c.image), matches_total: c.matches, mismatches_total: c.mismatches, learned: c.learned }));
    }
    return out;
  }
}
