/**
 * A custom sink: counts events per container and event type, and every `intervalMs` writes one JSON
 * summary line (`{"type":"summary", containers: {name: {file.open: n, ...}}}`). A sink implements
 * core's `Sink`: `write` is synchronous and must not block (it only counts here), `stats` feeds the
 * agent's /v1/stats and /metrics, `close` flushes what is left.
 */
import { emptySinkStats, type IEvent, type Sink, type SinkStats } from '@boxwatch/core';

export interface SummarySinkOptions {
  intervalMs?: number;
  out?: NodeJS.WritableStream;
}

export class ContainerSummarySink implements Sink {
  readonly name = 'container-summary';
  private readonly counters: SinkStats = emptySinkStats();
  private counts = new Map<string, Map<string, number>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly out: NodeJS.WritableStream;
  private readonly intervalMs: number;

  constructor(options: SummarySinkOptions = {}) {
    this.out = options.out ?? process.stdout;
    this.intervalMs = options.intervalMs ?? 5000;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.emitSummary(), this.intervalMs);
    this.timer.unref();
  }

  write(event: IEvent): void {
    this.counters.received++;
    if (!event.container) return; // host processes are not summarised
    const key = event.container.name ?? event.container.id?.slice(0, 12) ?? `unresolved cgroup ${event.cgroupId}`;
    let byType = this.counts.get(key);
    if (!byType) this.counts.set(key, (byType = new Map()));
    byType.set(event.type, (byType.get(event.type) ?? 0) + 1);
    this.counters.queued++;
  }

  private emitSummary(): void {
    if (this.counts.size === 0) return;
    const containers: Record<string, Record<string, number>> = {};
    for (const [name, byType] of this.counts) containers[name] = Object.fromEntries(byType);
    this.out.write(`${JSON.stringify({ type: 'summary', time: new Date().toISOString(), containers })}\n`);
    this.counters.delivered += this.counters.queued;
    this.counters.queued = 0;
    this.counts = new Map();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.emitSummary();
  }

  stats(): SinkStats {
    return { ...this.counters };
  }
}
