/**
 * The way to feed a Detector from live event streams (a Collector's plugins, Kafka topics): a Sink
 * (`new Collector({ sinks: [new DetectorSink(detector)] })`, or `write(event)` from a consumer) that
 * puts events back in kernel order and hands them to the detector as a bounded queue drained in
 * time slices.
 *
 * Why not call detector.ingest() straight from the event bus: ingest runs the rules (CEL) and models
 * synchronously, ~10-25 µs per event. Called inside the ring-buffer drain, a busy host (measured here: a
 * file-open benchmark at ~50k events/s) keeps the drain loop going for seconds, starving timers, the
 * control API and signal handling. Queueing makes the drain cheap; the detector catches up in slices of
 * at most `sliceMs`, yielding to I/O between them. When it cannot catch up, the oldest events are not
 * kept: new ones are dropped and counted (stats().dropped), never silently.
 *
 * Events are also put back in time order first: each plugin drains its own ring buffer (and in the
 * Kafka path each event family has its own topic), so a process's `net.connect` can arrive after
 * the `process.exec` that followed it, and rules correlating the two would miss. Events are held
 * for `reorderMs` and released oldest first.
 */
import { emptySinkStats, EventTimeKeys, ReorderBuffer, type IEvent, type Sink, type SinkStats } from '@boxwatch/core';
import type { Detector } from './detector.js';

export interface DetectorSinkOptions {
  /** Most events waiting for the detector (default 200,000). */
  maxQueue?: number;
  /** Longest the detector runs before yielding to the event loop (default 20 ms). */
  sliceMs?: number;
  /** How long events are held to restore time order across plugins (default 50 ms; 0 = off). */
  reorderMs?: number;
}

export class DetectorSink implements Sink {
  readonly name = 'detector';
  private readonly counters: SinkStats = emptySinkStats();
  private queue: IEvent[] = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  private readonly maxQueue: number;
  private readonly sliceMs: number;
  private idleWaiters: Array<() => void> = [];
  private readonly reorder: ReorderBuffer<IEvent>;
  private releaseTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly detector: Detector,
    options: DetectorSinkOptions = {},
  ) {
    this.maxQueue = options.maxQueue ?? 200_000;
    this.sliceMs = options.sliceMs ?? 20;
    const keys = new EventTimeKeys();
    this.reorder = new ReorderBuffer<IEvent>((e) => keys.key(e), options.reorderMs ?? 50);
  }

  write(event: IEvent): void {
    this.counters.received++;
    if (this.closed || this.queue.length - this.head + this.reorder.size >= this.maxQueue) {
      this.counters.dropped++;
      return;
    }
    if (this.reorder.windowMs === 0) {
      this.enqueue(event);
      return;
    }
    this.reorder.push(event);
    // Release on a timer: held events must come out even when nothing else arrives.
    this.releaseTimer ??= setTimeout(() => this.releaseHeld(), Math.max(5, this.reorder.windowMs / 5));
  }

  private releaseHeld(): void {
    this.releaseTimer = null;
    this.reorder.release(Date.now(), (e) => this.enqueue(e));
    if (this.reorder.size > 0) this.releaseTimer = setTimeout(() => this.releaseHeld(), Math.max(5, this.reorder.windowMs / 5));
  }

  private enqueue(event: IEvent): void {
    this.queue.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const deadline = performance.now() + this.sliceMs;
    let n = 0;
    while (this.head < this.queue.length) {
      const event = this.queue[this.head++]!;
      try {
        this.detector.ingest(event);
        this.counters.delivered++;
      } catch {
        this.counters.errors++;
      }
      // Check the clock every 64 events: performance.now() is not free either.
      if ((++n & 63) === 0 && performance.now() > deadline) break;
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.scheduled = false;
      for (const w of this.idleWaiters.splice(0)) w();
    } else {
      if (this.head > 65_536) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      setImmediate(() => this.drain());
    }
  }

  /** Resolves when everything written so far (held for reordering included) has been ingested. */
  flush(): Promise<void> {
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    this.reorder.releaseAll((e) => this.enqueue(e));
    if (this.head >= this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.closed = true;
  }

  stats(): SinkStats {
    return { ...this.counters, queued: this.queue.length - this.head + this.reorder.size };
  }
}
