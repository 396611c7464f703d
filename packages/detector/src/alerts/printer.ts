/**
 * Prints alerts: one readable line per alert on a terminal (coloured by priority), or ndjson (the
 * event JSON form, one per line) for pipes. Usable as a core `Sink`; non-alert events are ignored.
 */
import { emptySinkStats, stringifyEvent, type IEvent, type Sink, type SinkStats } from '@boxwatch/core';

export type AlertFormat = 'pretty' | 'ndjson';

export interface AlertPrinterOptions {
  /** Default: pretty when the stream is a TTY, else ndjson. */
  format?: AlertFormat;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  color?: boolean;
}

const COLORS: Record<string, string> = {
  emergency: '\x1b[41;97m',
  alert: '\x1b[41;97m',
  critical: '\x1b[31;1m',
  error: '\x1b[31m',
  warning: '\x1b[33m',
  notice: '\x1b[36m',
  informational: '\x1b[37m',
  debug: '\x1b[90m',
};

export function formatAlertLine(alert: IEvent, color = false): string {
  const a = alert as unknown as { priority: string; rule?: string; model?: string; message: string; count: number; container: { name?: string; id: string } | null; process?: { pid: number; comm: string } };
  const prio = a.priority.toUpperCase().padEnd(13);
  const who = a.container ? (a.container.name ?? a.container.id.slice(0, 12)) : 'host';
  const src = a.rule !== undefined ? a.rule : `model:${a.model ?? '?'}`;
  const count = a.count > 1 ? ` (x${a.count})` : '';
  const head = color ? `${COLORS[a.priority] ?? ''}${prio}\x1b[0m` : prio;
  return `${alert.time.toISOString()} ${head} [${who}] ${src}: ${a.message}${count}`;
}

export class AlertPrinter implements Sink {
  readonly name = 'alert-printer';
  private readonly counters = emptySinkStats();
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly format: AlertFormat;
  private readonly color: boolean;

  constructor(opts: AlertPrinterOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    const tty = this.stream.isTTY === true;
    this.format = opts.format ?? (tty ? 'pretty' : 'ndjson');
    this.color = opts.color ?? (tty && this.format === 'pretty');
  }

  write(event: IEvent): void {
    if (event.type !== 'alert') return;
    this.counters.received++;
    const line = this.format === 'ndjson' ? stringifyEvent(event) : formatAlertLine(event, this.color);
    this.stream.write(line + '\n');
    this.counters.delivered++;
  }

  async close(): Promise<void> {}

  stats(): SinkStats {
    return { ...this.counters };
  }
}
