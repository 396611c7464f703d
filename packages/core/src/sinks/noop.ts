import type { IEvent } from '../event.js';
import { emptySinkStats, type Sink, type SinkStats } from '../sink.js';

/** Counts events and discards them (benchmarks, dry runs). */
export class NoopSink implements Sink {
  readonly name = 'noop';
  private readonly counters: SinkStats = emptySinkStats();

  write(_event: IEvent): void {
    this.counters.received++;
    this.counters.delivered++;
  }

  async close(): Promise<void> {}

  stats(): SinkStats {
    return { ...this.counters };
  }
}
