/**
 * Optional response hook (off unless configured): for alerts of chosen rules/models, POST a JSON body to
 * the agent's HTTP control API with a bearer token, e.g. add a banned container pair after a lateral
 * movement alert. Calls are asynchronous and never block ingest; outcomes are counted.
 */
import type { Logger } from '@boxwatch/core';
import type { AlertEvent } from './alerts/alerter.js';

export interface ResponseAction {
  /** Rule name or `model:<name>` this action answers. */
  on: string;
  /** Path appended to the control API URL (e.g. `/v1/network/banned`). */
  path: string;
  /** Request body built from the alert. */
  body: (alert: AlertEvent) => unknown;
  /** Only on the first emission of an alert, not on count updates (default true). */
  firstOnly?: boolean;
}

export interface ResponseOptions {
  /** Base URL of the control API, e.g. `http://127.0.0.1:7070`. */
  url: string;
  token: string;
  actions: readonly ResponseAction[];
  timeoutMs?: number;
  logger?: Logger;
}

export interface ResponseStats {
  sent: number;
  failed: number;
  inFlight: number;
}

export class ResponseHook {
  private readonly counters: ResponseStats = { sent: 0, failed: 0, inFlight: 0 };
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: ResponseOptions) {}

  handle(alert: AlertEvent): void {
    const source = alert.rule ?? `model:${alert.model ?? ''}`;
    for (const action of this.opts.actions) {
      if (action.on !== source) continue;
      if ((action.firstOnly ?? true) && alert.count > 1) continue;
      const p = this.post(action, alert).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  stats(): ResponseStats {
    return { ...this.counters };
  }

  /** Wait for calls in flight (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async post(action: ResponseAction, alert: AlertEvent): Promise<void> {
    this.counters.inFlight++;
    try {
      const res = await fetch(new URL(action.path, this.opts.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
        body: JSON.stringify(action.body(alert)),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.counters.sent++;
    } catch (err) {
      this.counters.failed++;
      this.opts.logger?.warn({ path: action.path, alert: alert.id, err: (err as Error).message }, 'response hook call failed');
    } finally {
      this.counters.inFlight--;
    }
  }
}
