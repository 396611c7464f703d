import type { Writable } from 'node:stream';
import type { IEvent } from '../event.js';
import { eventText } from '../event-json.js';
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

/** Lines are handed to the stream in chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Writes formatted lines to a stream with a bound on what may wait in memory. Lines are joined
 * into chunks (handed over at CHUNK_CHARS or at the end of the current event-loop turn): a
 * stream.write per event cost as much as formatting the event (a Buffer, a writev entry and
 * its bookkeeping each).
 */
abstract class StreamSink implements Sink {
  abstract readonly name: string;
  protected readonly stream: Writable;
  private readonly maxBuffered: number;
  private readonly counters: SinkStats = emptySinkStats();
  private closed = false;
  private pending = '';
  private pendingAscii = true;
  private pendingLines = 0;
  private flushScheduled = false;

  constructor(options: StreamSinkOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.maxBuffered = options.maxBufferedBytes ?? 64 << 20;
    this.stream.on?.('error', () => {
      this.counters.errors++;
    });
  }

  /** The event's line; `ascii` when it is known to be all ASCII (see handOver). */
  protected abstract format(event: IEvent): { text: string; ascii: boolean };

  write(event: IEvent): void {
    this.counters.received++;
    if (this.closed || this.stream.destroyed || this.stream.writableLength + this.pending.length > this.maxBuffered) {
      this.counters.dropped++;
      return;
    }
    const line = this.format(event);
    this.pending += line.text;
    this.pendingAscii &&= line.ascii;
    this.pendingLines++;
    if (this.pending.length >= CHUNK_CHARS) this.handOver();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.handOver();
      });
    }
  }

  /** Pass the joined lines to the stream; they count as delivered once the stream has them. */
  private handOver(): void {
    if (this.pendingLines === 0) return;
    const text = this.pending;
    const ascii = this.pendingAscii;
    const lines = this.pendingLines;
    this.pending = '';
    this.pendingAscii = true;
    this.pendingLines = 0;
    if (this.stream.destroyed) {
      this.counters.dropped += lines;
      return;
    }
    // An ASCII chunk's UTF-8 bytes are its Latin-1 bytes: encoding it as Latin-1 skips Node's UTF-8
    // pass, which cost more per event than building the JSON (~0.9 ns per byte). Always a Buffer,
    // so the stream gets one kind of chunk.
    this.stream.write(Buffer.from(text, ascii ? 'latin1' : 'utf8'));
    this.counters.delivered += lines;
  }

  async flush(): Promise<void> {
    this.handOver();
    if (this.stream.writableLength === 0 || this.stream.destroyed) return;
    await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.closed = true;
  }

  stats(): SinkStats {
    return { ...this.counters, queued: this.stream.writableLength + this.pending.length };
  }
}

/** One JSON object per line (the wire form of IEvent.toJSON()). */
export class NdjsonSink extends StreamSink {
  readonly name = 'ndjson';
  protected format(event: IEvent): { text: string; ascii: boolean } {
    const t = eventText(event);
    t.text += '\n';
    return t;
  }
}

/** A short human-readable line per event, for terminals. */
export class PrettySink extends StreamSink {
  readonly name = 'pretty';
  protected format(event: IEvent): { text: string; ascii: boolean } {
    const j = event.toJSON();
    const { schema: _s, type, time, ts: _ts, host: _h, container, cgroupId: _c, pid, tid: _t, comm, ...fields } = j as Record<string, unknown>;
    const c = container as { name?: string; id: string } | null;
    const where = c ? (c.name ?? c.id.slice(0, 12)) : 'host';
    const detail = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return { text: `${String(time).slice(11, 23)} ${String(type).padEnd(16)} ${where.padEnd(20)} ${String(comm)}[${String(pid)}] ${detail}\n`, ascii: false };
  }
}
