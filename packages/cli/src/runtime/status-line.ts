/**
 * The live status line of `boxwatch run` on a terminal: events/s per plugin, containers watched,
 * lost events, alerts, and during first-run learning a progress bar with the time left. Redrawn in
 * place on stderr (\r + clear-line) once a second; alerts and logs print above it.
 */
import type { Collector } from '@boxwatch/core';
import type { Detector } from '@boxwatch/detector';

export interface StatusSources {
  collector: Collector;
  detector?: Detector;
  alerts: () => number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function progressBar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

const short = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));

export class StatusLine {
  private timer: NodeJS.Timeout | null = null;
  private last = new Map<string, number>();
  private lastAt = Date.now();
  private drawn = false;

  constructor(
    private readonly src: StatusSources,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** One status line (without the terminal control characters). */
  render(now = Date.now()): string {
    const stats = this.src.collector.stats();
    const dt = Math.max(0.001, (now - this.lastAt) / 1000);
    const rates: string[] = [];
    let lost = 0;
    for (const [name, p] of Object.entries(stats.plugins)) {
      lost += p.lost;
      const prev = this.last.get(name) ?? p.events;
      this.last.set(name, p.events);
      rates.push(p.state === 'running' ? `${name} ${short((p.events - prev) / dt)}/s` : `${name} ${p.state}`);
    }
    this.lastAt = now;
    const parts = [rates.join(' '), `containers ${stats.containers}`, `lost ${short(lost)}`, `alerts ${this.src.alerts()}`];
    // The in-process detector's input queue: only worth a place on the line when it falls behind.
    const feed = stats.sinks.detector;
    if (feed && (feed.dropped > 0 || feed.queued > 10_000)) parts.push(`detector queue ${short(feed.queued)} dropped ${short(feed.dropped)}`);
    const d = this.src.detector;
    if (d) {
      const p = d.progress();
      if (p.phase !== 'detecting') {
        const left = p.timeLeftMs === null ? '' : ` ${formatDuration(p.timeLeftMs)} left`;
        parts.push(p.images.length === 0 ? 'learning: waiting for container events' : `learning ${progressBar(p.fraction)}${left}`);
      } else if (p.images.length) parts.push('models detecting');
    }
    return parts.join(' | ');
  }

  start(intervalMs = 1000): void {
    this.render(); // prime the per-plugin counters
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  draw(): void {
    const cols = this.stream.columns || 160; // 0 on a pty without a size (script, some CI)
    this.stream.write(`\r\x1b[2K${this.render().slice(0, Math.max(20, cols - 1))}`);
    this.drawn = true;
  }

  /** Clear the line so that a full line (an alert) can be printed; the next tick redraws it. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }
}
