/**
 * The last N alerts in memory for GET /v1/alerts, and the fan-out for the SSE stream. An alert that
 * is re-emitted with a higher count (same `id`) replaces its earlier snapshot.
 */
import type { EventJSON, IEvent } from '@boxwatch/core';
import { PRIORITIES } from '@boxwatch/detector';

export interface AlertFilter {
  /** Minimum priority (Falco order: emergency is highest). */
  priority?: string;
  rule?: string;
  /** Container id (or 12+ hex prefix) or name. */
  container?: string;
  /** Only alerts last seen at or after this time. */
  since?: Date;
  limit?: number;
}

type Listener = (alert: EventJSON) => void;

export class AlertStore {
  private readonly byId = new Map<string, EventJSON>();
  private readonly listeners = new Set<Listener>();
  private total = 0;

  constructor(private readonly capacity: number) {}

  add(alert: IEvent): void {
    const json = alert.toJSON();
    const id = String(json.id ?? `${this.total}`);
    this.total++;
    // A re-emission (higher count) is the same alert: it stays acknowledged.
    const acknowledged = this.byId.get(id)?.acknowledged;
    if (acknowledged !== undefined) json.acknowledged = acknowledged;
    this.byId.delete(id); // re-insert: most recent last
    this.byId.set(id, json);
    while (this.byId.size > this.capacity) this.byId.delete(this.byId.keys().next().value!);
    for (const l of this.listeners) l(json);
  }

  /**
   * Mark a retained alert acknowledged (`acknowledged`: ISO time, kept across its re-emissions) and
   * send it to the subscribers again so every console sees it. Null when no such alert is retained.
   */
  acknowledge(id: string, at = new Date()): EventJSON | null {
    const json = this.byId.get(id);
    if (!json) return null;
    if (json.acknowledged === undefined) {
      json.acknowledged = at.toISOString();
      for (const l of this.listeners) l(json);
    }
    return json;
  }

  /** Newest first. */
  query(f: AlertFilter = {}): EventJSON[] {
    const out: EventJSON[] = [];
    const values = [...this.byId.values()];
    for (let i = values.length - 1; i >= 0 && out.length < (f.limit ?? Infinity); i--) {
      if (matches(values[i]!, f)) out.push(values[i]!);
    }
    return out;
  }

  subscribe(filter: AlertFilter, listener: Listener): () => void {
    const l: Listener = (a) => {
      if (matches(a, filter)) listener(a);
    };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get size(): number {
    return this.byId.size;
  }

  get received(): number {
    return this.total;
  }
}

export function priorityRank(p: string): number {
  const i = (PRIORITIES as readonly string[]).indexOf(p.toLowerCase());
  return i === -1 ? Number.POSITIVE_INFINITY : i;
}

function matches(a: EventJSON, f: AlertFilter): boolean {
  if (f.priority !== undefined && priorityRank(String(a.priority)) > priorityRank(f.priority)) return false;
  if (f.rule !== undefined && a.rule !== f.rule && `model:${String(a.model)}` !== f.rule) return false;
  if (f.container !== undefined) {
    const c = a.container as { id?: string; name?: string } | null;
    if (!c || (c.name !== f.container && !(c.id && f.container.length >= 12 && c.id.startsWith(f.container)))) return false;
  }
  if (f.since !== undefined) {
    const t = Date.parse(String(a.last_seen ?? a.time));
    if (!(t >= f.since.getTime())) return false;
  }
  return true;
}
