import type { IEvent } from './event.js';

/** Counters every sink exposes; the agent publishes them in /v1/stats and /metrics. */
export interface SinkStats {
  /** Events handed to the sink. */
  received: number;
  /** Events the sink delivered to its destination. */
  delivered: number;
  /** Events the sink gave up on (queue full, destination failed past retries). Never silent. */
  dropped: number;
  /** Events waiting in the sink's queue right now. */
  queued: number;
  /** Delivery errors seen (retried or not). */
  errors: number;
}

/**
 * Where events go. `write` is synchronous and must not block: a sink that talks to the network
 * queues internally (bounded) and counts what it drops.
 */
export interface Sink {
  readonly name: string;
  start?(): Promise<void>;
  write(event: IEvent): void;
  /** Deliver everything queued so far. */
  flush?(): Promise<void>;
  /** Flush (bounded by the sink's own timeout) and release resources. Idempotent. */
  close(): Promise<void>;
  stats(): SinkStats;
}

export function emptySinkStats(): SinkStats {
  return { received: 0, delivered: 0, dropped: 0, queued: 0, errors: 0 };
}
