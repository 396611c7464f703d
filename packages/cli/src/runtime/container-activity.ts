/**
 * Per-container activity for the console's Containers view: events per second by family (the part
 * of the type before the dot: syscall, file, net, process) and the last resource.usage sample
 * (CPU, memory). The console attaches it to the Collector only while a console is connected, so an
 * agent nobody watches pays nothing per event.
 */
import type { IEvent } from '@boxwatch/core';

export interface ContainerUsage {
  cpu_percent: number | null;
  memory_bytes: number | null;
  memory_limit_bytes: number | null;
  /** ISO time of the resource.usage sample. */
  at: string;
}

export interface ContainerActivityView {
  /** Events per second by family over the last `take()` period. */
  rates: Record<string, number>;
  usage: ContainerUsage | null;
}

export class ContainerActivity {
  private counts = new Map<string, Record<string, number>>();
  private readonly usage = new Map<string, ContainerUsage>();
  private since = Date.now();

  add(event: IEvent): void {
    const id = event.container?.id;
    if (!id) return;
    if (event.type === 'resource.usage') {
      const u = event as unknown as IEvent & Omit<ContainerUsage, 'at'>;
      this.usage.set(id, { cpu_percent: u.cpu_percent, memory_bytes: u.memory_bytes, memory_limit_bytes: u.memory_limit_bytes, at: event.time.toISOString() });
      return;
    }
    const dot = event.type.indexOf('.');
    const family = dot < 0 ? event.type : event.type.slice(0, dot);
    let c = this.counts.get(id);
    if (!c) this.counts.set(id, (c = {}));
    c[family] = (c[family] ?? 0) + 1;
  }

  /** Rates since the previous call (then reset) and the last usage, for the containers in `ids`. */
  take(ids: Iterable<string>, now = Date.now()): Record<string, ContainerActivityView> {
    const seconds = Math.max((now - this.since) / 1000, 0.001);
    const out: Record<string, ContainerActivityView> = {};
    for (const id of ids) {
      const c = this.counts.get(id) ?? {};
      const rates: Record<string, number> = {};
      for (const [k, n] of Object.entries(c)) rates[k] = Math.round((n / seconds) * 10) / 10;
      out[id] = { rates, usage: this.usage.get(id) ?? null };
    }
    this.counts = new Map();
    this.since = now;
    return out;
  }

  /** Forget a container that stopped. */
  forget(id: string): void {
    this.counts.delete(id);
    this.usage.delete(id);
  }
}
