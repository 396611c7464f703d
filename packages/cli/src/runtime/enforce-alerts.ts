/**
 * `boxwatch run`: every enforce.* event becomes an alert, on the same path as the detector's (the
 * alert store, the printer, /v1/alerts). A direct path rather than a rule: the action was already
 * decided in the kernel by a policy, so there is nothing left for a condition to evaluate, and the
 * detector's rule fields need not learn the enforce events. The detector's Alerter still applies
 * its deduplication (one alert per policy, process and attempt within its window) and its
 * per-container rate limit, both counted in stats().
 */
import type { IEvent, Sink, SinkStats } from '@boxwatch/core';
import { emptySinkStats } from '@boxwatch/core';
import { Alerter, type AlertEvent, type AlerterStats, type Priority } from '@boxwatch/detector';
import type { EnforceEvent } from '@boxwatch/plugin-enforce';

/** What was attempted, for the alert message and the deduplication key. */
function attempted(e: EnforceEvent): string {
  if (e.type === 'enforce.exec') return `exec of ${e.path ?? '?'}`;
  if (e.type === 'enforce.open') return `open for write of ${e.path ?? '?'}`;
  if (e.type === 'enforce.connect') return `connect to ${e.address ?? '*'}:${e.port ?? '*'}`;
  return `syscall ${e.syscall ?? '?'}`;
}

/** Taken actions are critical; audit and dryRun reports are warnings; a failed kill is an error. */
function priorityOf(e: EnforceEvent): Priority {
  if (e.enforced_as === 'failed') return 'error';
  return e.enforced_as === 'none' ? 'warning' : 'critical';
}

export function enforceAlertMessage(e: EnforceEvent): string {
  const where = e.container ? `container ${e.container.name || e.container.id?.slice(0, 12) || '(unnamed)'}` : 'host';
  const what =
    e.enforced_as === 'none'
      ? e.dryRun
        ? `would ${e.action} (dryRun)`
        : 'audited'
      : e.enforced_as === 'failed'
        ? `could not be stopped (error ${e.error ?? '?'})`
        : e.action === 'deny' && e.enforced_as === 'kill'
          ? 'killed (deny enforced as kill: no BPF LSM)'
          : e.enforced_as === 'deny'
            ? 'denied'
            : 'killed';
  return `Policy ${e.policy ?? '(removed)'}: ${e.comm} (pid ${e.pid}) in ${where} ${what}: ${attempted(e)}`;
}

export class EnforceAlertSink implements Sink {
  readonly name = 'enforce-alerts';
  private readonly counters: SinkStats = emptySinkStats();
  private readonly alerter: Alerter;
  /** Count updates of deduplicated alerts go out every second (as the detector's do). */
  private readonly timer: NodeJS.Timeout;

  constructor(onAlert: (alert: AlertEvent) => void) {
    this.alerter = new Alerter(onAlert);
    this.timer = setInterval(() => this.alerter.flush(), 1000);
    this.timer.unref();
  }

  write(event: IEvent): void {
    if (!event.type.startsWith('enforce.')) return;
    this.counters.received++;
    const e = event as EnforceEvent;
    this.alerter.raise({
      rule: `enforce:${e.policy ?? '(removed)'}`,
      priority: priorityOf(e),
      message: enforceAlertMessage(e),
      tags: ['enforce', e.action, ...(e.dryRun ? ['dryRun'] : [])],
      key: `${e.pid}\u0000${attempted(e)}`,
      event,
      proc: null,
      details: { policy: e.policy, action: e.action, enforced_as: e.enforced_as, dryRun: e.dryRun },
    });
    this.counters.delivered++;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.alerter.flush(Number.MAX_SAFE_INTEGER);
  }

  /** `dropped`: alerts the per-container rate limit refused (their events still went out). */
  stats(): SinkStats {
    return { ...this.counters, dropped: this.alerter.stats().dropped };
  }

  alerterStats(): AlerterStats {
    return this.alerter.stats();
  }
}
