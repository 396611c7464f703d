/**
 * Turns rule matches and model anomalies into `alert` events, deduplicated and rate-limited.
 *
 * Dedup: the first occurrence of (source, container, key) emits an alert at once with count 1; later
 * occurrences within `dedupWindowMs` (event time) only bump its count and add evidence (bounded).
 * `flush()` re-emits the alerts whose count grew since they were last emitted (same `id`, higher
 * `count`), and forgets those whose window has passed. Rate limit: a token bucket per container caps
 * *new* alerts; refused ones are counted in `stats().dropped` (and per container), never silent.
 */
import { containerKey as containerKeyOf, createEvent, type EventJSON, type IEvent } from '@boxwatch/core';
import type { Priority } from '../rules/loader.js';
import type { ProcEntry } from '../context/process-table.js';

export interface AlertFields {
  /** Alert id, stable across count updates of the same deduplicated alert. */
  id: string;
  rule?: string;
  model?: string;
  priority: Priority;
  process: { pid: number; tid: number; comm: string; exe: string; argv: string[]; ppid: number };
  message: string;
  evidence: EventJSON[];
  count: number;
  tags: string[];
  /** Deduplication key (without source and container). */
  key: string;
  first_seen: string;
  last_seen: string;
  details?: Record<string, unknown>;
}

export type AlertEvent = IEvent & Readonly<AlertFields> & { readonly type: 'alert' };

export interface AlerterOptions {
  dedupWindowMs?: number;
  /** Evidence events kept per alert (default 5). */
  maxEvidence?: number;
  /** New alerts per second per container (default 20) … */
  ratePerSec?: number;
  /** … with this burst (default 50). */
  burst?: number;
  /** Deduplicated alerts tracked at once (default 10,000; the oldest is flushed out). */
  maxOpen?: number;
}

export interface AlertInput {
  rule?: string;
  model?: string;
  priority: Priority;
  message: string;
  tags: readonly string[];
  key: string;
  event: IEvent;
  proc: ProcEntry | null;
  details?: Record<string, unknown>;
}

interface Open {
  fields: AlertFields;
  header: IEvent;
  windowEndMs: number;
  emittedCount: number;
}

interface Bucket {
  tokens: number;
  lastMs: number;
  dropped: number;
}

export interface AlerterStats {
  raised: number;
  emitted: number;
  updates: number;
  deduplicated: number;
  dropped: number;
  droppedByContainer: Record<string, number>;
  open: number;
}

let seq = 0;

export class Alerter {
  private readonly open = new Map<string, Open>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly counters = { raised: 0, emitted: 0, updates: 0, deduplicated: 0, dropped: 0 };
  private readonly window: number;
  private readonly maxEvidence: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxOpen: number;

  constructor(
    private readonly emit: (alert: AlertEvent) => void,
    opts: AlerterOptions = {},
  ) {
    this.window = opts.dedupWindowMs ?? 60_000;
    this.maxEvidence = opts.maxEvidence ?? 5;
    this.rate = opts.ratePerSec ?? 20;
    this.burst = opts.burst ?? 50;
    this.maxOpen = opts.maxOpen ?? 10_000;
  }

  raise(input: AlertInput): void {
    this.counters.raised++;
    const e = input.event;
    const nowMs = e.time.getTime();
    const containerKey = containerKeyOf(e);
    const source = input.rule !== undefined ? `rule:${input.rule}` : `model:${input.model ?? '?'}`;
    const dedupKey = `${source}\u0000${containerKey}\u0000${input.key}`;
    const existing = this.open.get(dedupKey);
    if (existing && nowMs <= existing.windowEndMs) {
      existing.fields.count++;
      existing.fields.last_seen = e.time.toISOString();
      if (existing.fields.evidence.length < this.maxEvidence) existing.fields.evidence.push(e.toJSON());
      this.counters.deduplicated++;
      return;
    }
    if (existing) this.retire(dedupKey, existing);
    if (!this.take(containerKey, nowMs)) return;
    const p = input.proc;
    const fields: AlertFields = {
      id: `${nowMs.toString(36)}-${(seq++).toString(36)}`,
      ...(input.rule !== undefined ? { rule: input.rule } : { model: input.model }),
      priority: input.priority,
      process: { pid: e.pid, tid: e.tid, comm: e.comm, exe: p?.exe ?? '', argv: p?.argv ?? [], ppid: p?.ppid ?? 0 },
      message: input.message,
      evidence: [e.toJSON()],
      count: 1,
      tags: [...input.tags],
      key: input.key,
      first_seen: e.time.toISOString(),
      last_seen: e.time.toISOString(),
      ...(input.details ? { details: input.details } : {}),
    };
    const entry: Open = { fields, header: e, windowEndMs: nowMs + this.window, emittedCount: 1 };
    this.open.set(dedupKey, entry);
    if (this.open.size > this.maxOpen) {
      const [k, oldest] = this.open.entries().next().value as [string, Open];
      this.retire(k, oldest);
    }
    this.counters.emitted++;
    this.emit(this.build(entry));
  }

  /**
   * Emit count updates of open alerts; drop those whose window ended before `nowMs` (event time;
   * defaults to wall clock).
   */
  flush(nowMs: number = Date.now()): void {
    for (const [k, o] of this.open) {
      if (o.fields.count > o.emittedCount) {
        o.emittedCount = o.fields.count;
        this.counters.updates++;
        this.emit(this.build(o));
      }
      if (nowMs > o.windowEndMs) this.open.delete(k);
    }
  }

  stats(): AlerterStats {
    const droppedByContainer: Record<string, number> = {};
    for (const [k, b] of this.buckets) if (b.dropped > 0) droppedByContainer[k] = b.dropped;
    return { ...this.counters, droppedByContainer, open: this.open.size };
  }

  forgetContainer(id: string): void {
    const b = this.buckets.get(id);
    if (b && b.dropped === 0) this.buckets.delete(id);
  }

  private retire(k: string, o: Open): void {
    if (o.fields.count > o.emittedCount) {
      o.emittedCount = o.fields.count;
      this.counters.updates++;
      this.emit(this.build(o));
    }
    this.open.delete(k);
  }

  private take(containerKey: string, nowMs: number): boolean {
    let b = this.buckets.get(containerKey);
    if (!b) {
      b = { tokens: this.burst, lastMs: nowMs, dropped: 0 };
      this.buckets.set(containerKey, b);
    }
    if (nowMs > b.lastMs) {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.lastMs) / 1000) * this.rate);
      b.lastMs = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    b.dropped++;
    this.counters.dropped++;
    return false;
  }

  private build(o: Open): AlertEvent {
    const h = o.header;
    const f = o.fields;
    // A snapshot: later count updates must not mutate an alert a sink already holds.
    return createEvent(
      'alert',
      { time: h.time, ts: h.ts, host: h.host, container: h.container, cgroupId: h.cgroupId, pid: h.pid, tid: h.tid, comm: h.comm },
      { ...f, evidence: [...f.evidence], tags: [...f.tags] },
    ) as unknown as AlertEvent;
  }
}
