import type { IEvent } from '../event.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Sink, SinkStats } from '../sink.js';

export interface BackgroundStartOptions {
  logger?: Logger;
  /** First retry delay, doubled up to maxDelayMs (defaults 1 s and 30 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A sink whose destination may be down when the agent starts (a Kafka broker being restarted):
 * start() returns at once and the real start is retried with backoff in the background. Events
 * written meanwhile go to the wrapped sink, which queues them within its own bound and counts what
 * it drops — collection never waits for, or dies with, the destination.
 */
export class BackgroundStartSink implements Sink {
  readonly name: string;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private attempts = 0;
  private started = false;
  private readonly log: Logger;

  constructor(
    private readonly inner: Sink,
    private readonly options: BackgroundStartOptions = {},
  ) {
    this.name = inner.name;
    this.log = options.logger ?? silentLogger;
  }

  /** True once the wrapped sink has started. */
  get running(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    await this.attempt();
  }

  private async attempt(): Promise<void> {
    this.timer = null;
    if (this.closed || this.started) return;
    this.attempts++;
    try {
      await this.inner.start?.();
      this.started = true;
      if (this.attempts > 1) this.log.info({ sink: this.name, attempts: this.attempts }, 'sink started after retrying');
    } catch (err) {
      const delay = Math.min((this.options.initialDelayMs ?? 1000) * 2 ** (this.attempts - 1), this.options.maxDelayMs ?? 30_000);
      if (this.attempts === 1 || this.attempts % 10 === 0) {
        this.log.warn({ sink: this.name, err: (err as Error).message, retryInMs: delay, attempts: this.attempts }, 'sink could not start; events are queued within its bound while it retries');
      }
      if (!this.closed) this.timer = setTimeout(() => void this.attempt(), delay);
    }
  }

  write(event: IEvent): void {
    this.inner.write(event);
  }

  async flush(): Promise<void> {
    if (this.started) await this.inner.flush?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inner.close();
  }

  stats(): SinkStats {
    return this.inner.stats();
  }
}
