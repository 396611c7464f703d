/**
 * Restores time order across independent event streams. Each plugin has its own ring buffer and
 * drain timer (and in Kafka each event family its own topic), so a process's `net.connect` can
 * arrive after the `process.exec` that followed it. A consumer that correlates events (the
 * detector) holds them for a short window and releases them in time order once no earlier event
 * can still arrive.
 */
export class ReorderBuffer<T> {
  private readonly heap: Array<{ key: number; seq: number; item: T }> = [];
  private seq = 0;

  /**
   * @param key the item's time in ms (fractions allowed); items are released in key order
   * @param windowMs how long an item is held for later arrivals with an earlier key
   */
  constructor(
    private readonly key: (item: T) => number,
    readonly windowMs: number,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  push(item: T): void {
    this.heap.push({ key: this.key(item), seq: this.seq++, item });
    this.up(this.heap.length - 1);
  }

  /** Hand every item older than `now - windowMs` to `out`, oldest first. */
  release(now: number, out: (item: T) => void): number {
    const watermark = now - this.windowMs;
    let n = 0;
    while (this.heap.length > 0 && (this.heap[0] as { key: number }).key <= watermark) {
      out(this.pop());
      n++;
    }
    return n;
  }

  /** Hand everything held to `out` in order (shutdown). */
  releaseAll(out: (item: T) => void): number {
    let n = 0;
    while (this.heap.length > 0) {
      out(this.pop());
      n++;
    }
    return n;
  }

  private pop(): T {
    const top = this.heap[0] as { item: T };
    const last = this.heap.pop() as (typeof this.heap)[number];
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return top.item;
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i] as { key: number; seq: number };
    const b = this.heap[j] as { key: number; seq: number };
    return a.key < b.key || (a.key === b.key && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.heap[i] as (typeof this.heap)[number];
    this.heap[i] = this.heap[j] as (typeof this.heap)[number];
    this.heap[j] = t;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/**
 * Ordering keys of events on one time line per host, in ms (fractions allowed), for ReorderBuffer.
 *
 * A kernel event (ts > 0) is ordered by its kernel timestamp: its key is ts mapped to wall-clock ms
 * through an offset fixed per host (anchored on that host's first event), so keys follow kernel
 * order exactly. Deriving the key from the event's wall-clock `time` instead is not monotonic in ts:
 * that time is truncated to the ms and converted with an offset the collector refreshes, so an exec
 * and the exit 300 µs after it could swap. A host whose wall clock stepped (the key drifted more
 * than REANCHOR_MS from the event's time) is anchored again. Events not made by the kernel (ts 0)
 * are keyed by their time.
 */
export class EventTimeKeys {
  private static readonly REANCHOR_MS = 100;
  private readonly offsets = new Map<string, number>();

  /** The key of `event`; bind it (`(e) => keys.key(e)`) to hand it to a ReorderBuffer. */
  key(event: { time: Date; ts: bigint; host: string }): number {
    const ms = event.time.getTime();
    if (event.ts === 0n) return ms;
    const kernelMs = Number(event.ts) / 1e6;
    let offset = this.offsets.get(event.host);
    if (offset === undefined || Math.abs(kernelMs + offset - ms) > EventTimeKeys.REANCHOR_MS) {
      offset = ms - kernelMs;
      this.offsets.set(event.host, offset);
    }
    return kernelMs + offset;
  }
}
