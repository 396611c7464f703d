import type { Writable } from 'node:stream';
import type { IEvent } from '../event.js';
import { stringifyEvent } from '../event-json.js';
import { emptySinkStats, type Sink, type SinkStats } from '../sink.js';

export interface StreamSinkOptions {
  /** Where lines go (default process.stdout). */
  stream?: Writable;
  /**
   * Bytes the stream may hold unflushed before events are dropped (and counted) instead of
   * growing memory without bound when the reader is slow. Default 64 MiB.
   */
  maxBufferedBytes?: number;
}

/** Writes formatted lines to a stream with a bound on what may wait in memory. */
abstract class StreamSink implements Sink {
  abstract readonly name: string;
  protected readonly stream: Writable;
  private readonly maxBuffered: number;
  private readonly counters: SinkStats = emptySinkStats();
  private closed = false;

  constructor(options: StreamSinkOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.maxBuffered = options.maxBufferedBytes ?? 64 << 20;
    this.stream.on?.('error', () => {
      this.counters.errors++;
    });
  }

  protected abstract format(event: IEvent): string;

  write(event: IEvent): void {
    this.counters.received++;
    if (this.closed || this.stream.writableLength > this.maxBuffered || this.stream.destroyed) {
      this.counters.dropped++;
      return;
    }
    this.stream.write(this.format(event));
    this.counters.delivered++;
  }

  async flush(): Promise<void> {
    if (this.stream.writableLength === 0 || this.stream.destroyed) return;
    await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.closed = true;
  }

  stats(): SinkStats {
    return { ...this.counters, queued: this.stream.writableLength };
  }
}

/** One JSON object per line (the wire form of IEvent.toJSON()). */
export class NdjsonSink extends StreamSink {
  readonly name = 'ndjson';
  protected format(event: IEvent): string {
    return `${stringifyEvent(event)}\n`;
  }
}

/** A short human-readable line per event, for terminals. */
export class PrettySink extends StreamSink {
  readonly name = 'pretty';
  protected format(event: IEvent): string {
    const j = event.toJSON();
    const { schema: _s, type, time, ts: _ts, host: _h, container, cgroupId: _c, pid, tid: _t, comm, ...fields } = j as Record<string, unknown>;
    const c = container as { name?: string; id: string } | null;
    const where = c ? (c.name ?? c.id.slice(0, 12)) : 'host';
    const detail = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return `${String(time).slice(11, 23)} ${String(type).padEnd(16)} ${where.padEnd(20)} ${String(comm)}[${String(pid)}] ${detail}\n`;
  }
}
