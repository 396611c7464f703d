/**
 * A reference implementation, in TypeScript, of what plugin-syscall's kernel sequence filter does in
 * detect mode (bpf/syscall.bpf.c kseq_step): replays recorded `syscall.seq` events (userspace sequence
 * mode) into the `syscall.seq_mismatch` events the kernel would have written and the container's
 * match total. Tests use it to check the kernel against a recorded stream, and the kernel path of
 * STIDE against the userspace one on the same stream.
 */
import { createEvent, type IEvent } from '@boxwatch/core';
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

export function simulateKernelFilter(seq: readonly IEvent[], known: ReadonlySet<number>, n: number, containerKey: (e: IEvent) => string = (e) => e.container?.id ?? ''): SimulatedKernel {
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
