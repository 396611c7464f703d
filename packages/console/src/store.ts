/**
 * Live state of the console, fed by two streams: /v1/alerts/stream (alerts) and
 * /v1/console/stream (containers snapshot + changes, stats). Incoming alerts are queued and applied
 * in one batch per animation frame so a burst of thousands does not re-render per alert.
 */
import { reactive, shallowRef, triggerRef } from 'vue';
import { follow, request, type StreamHandle } from './api';

export interface Alert {
  id: string;
  rule?: string;
  model?: string;
  priority: string;
  message: string;
  time: string;
  first_seen: string;
  last_seen: string;
  count: number;
  container: { id: string | null; name?: string; image?: string } | null;
  process: { pid: number; comm: string; exe: string; argv: string[]; ppid: number };
  evidence: Array<Record<string, unknown>>;
  details?: Record<string, unknown>;
  /** ISO time it was acknowledged (by any console), when it was. */
  acknowledged?: string;
  [k: string]: unknown;
}

export interface Container {
  id: string;
  name?: string;
  image?: string;
  imageId?: string;
  pid: number | null;
  ips: string[];
  running: boolean;
  /** When this agent first saw the container start (ISO time), from the console stream. */
  seenAt?: string;
}

export interface Stats {
  at: string;
  collector?: {
    startedAt: string | null;
    events: { total: number; byType: Record<string, number> };
    unattributedEvents: number;
    plugins: Record<string, { events: number; lost: number; state: string; variant?: string | null; error?: string; [k: string]: unknown }>;
    sinks: Record<string, { received: number; delivered: number; dropped: number; queued: number; errors: number; writeErrors: number }>;
    containers: number;
  };
  detector?: Record<string, unknown>;
  learning?: { phase: string; fraction: number; timeLeftMs: number | null; images: number };
  process: { cpuPercent: number; rssBytes: number };
  /** Bytes between endpoints (containers by name, else addresses) from net.flow, biggest first. */
  flows: { pairs: Array<{ src: string; dst: string; bytes: number; lastSeen: string }>; dropped: number };
  /** Per container: events/s by family since the previous frame, last resource.usage sample. */
  activity: Record<string, { rates: Record<string, number>; usage: { cpu_percent: number | null; memory_bytes: number | null; memory_limit_bytes: number | null } | null }>;
}

/** Most alerts kept in the page; the agent keeps its own window (GET /v1/alerts). */
const MAX_ALERTS = 20_000;

export const state = reactive({
  alertsConnected: false,
  consoleConnected: false,
  stats: null as Stats | null,
  /** The kernel features `boxwatch doctor` reports, as the agent probed them. */
  features: null as Array<{ name: string; status: string; detail: string }> | null,
  /** Stats history (newest last) for charts: [time s, events total, lost total]. */
  statsHistory: [] as Array<[number, number, number]>,
});
/** Per container: total events/s of the last 60 frames (sparklines). Replaced per frame. */
export const rateHistory = shallowRef(new Map<string, number[]>());
/** Newest first. A shallowRef: the array is replaced per batch, not deep-watched per alert. */
export const alerts = shallowRef<Alert[]>([]);
export const containers = shallowRef(new Map<string, Container>());

let pending: Alert[] = [];
let scheduled = false;
function queueAlert(a: Alert): void {
  pending.push(a);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
}
function flush(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  // A re-emission (same id, higher count) replaces the older snapshot.
  const merged = new Map(alerts.value.map((a) => [a.id, a]));
  for (const a of batch) {
    const old = merged.get(a.id);
    if (!old || old.count <= a.count) merged.set(a.id, a);
  }
  const next = [...merged.values()].sort((x, y) => (x.last_seen < y.last_seen ? 1 : x.last_seen > y.last_seen ? -1 : 0));
  alerts.value = next.length > MAX_ALERTS ? next.slice(0, MAX_ALERTS) : next;
}

/** Acknowledge in the agent; the alert comes back over the stream marked, to every console. */
export async function acknowledge(id: string): Promise<void> {
  queueAlert(await request<Alert>(`/v1/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST' }));
}

let streams: StreamHandle[] = [];

export function connect(): void {
  disconnect();
  streams.push(
    follow('/v1/alerts/stream', {
      onState: (c) => (state.alertsConnected = c),
      // The stream does not replay: after each (re)connect, merge the retained window.
      onOpen: () => void request<Alert[]>('/v1/alerts?limit=5000').then((list) => list.forEach(queueAlert)).catch(() => {}),
      onEvent: (event, data) => event === 'alert' && queueAlert(data as Alert),
    }),
    follow('/v1/console/stream', {
      onState: (c) => (state.consoleConnected = c),
      onEvent: (event, data) => {
        if (event === 'containers') {
          containers.value = new Map((data as Container[]).map((c) => [c.id, c]));
        } else if (event === 'container') {
          const { kind, container } = data as { kind: 'start' | 'stop'; container: Container };
          const map = containers.value;
          map.set(container.id, { ...map.get(container.id), ...container, running: kind === 'start' });
          triggerRef(containers);
        } else if (event === 'features') {
          state.features = data as typeof state.features;
        } else if (event === 'stats') {
          const s = data as Stats;
          state.stats = s;
          const lost = Object.values(s.collector?.plugins ?? {}).reduce((n, p) => n + p.lost, 0);
          state.statsHistory.push([Date.parse(s.at) / 1000, s.collector?.events.total ?? 0, lost]);
          if (state.statsHistory.length > 300) state.statsHistory.shift();
          const next = new Map<string, number[]>();
          for (const [id, a] of Object.entries(s.activity ?? {})) {
            const total = Object.values(a.rates).reduce((x, y) => x + y, 0);
            next.set(id, [...(rateHistory.value.get(id) ?? []).slice(-59), total]);
          }
          rateHistory.value = next;
        }
      },
    }),
  );
}

export function disconnect(): void {
  for (const s of streams) s.close();
  streams = [];
  alerts.value = [];
  containers.value = new Map();
  rateHistory.value = new Map();
  state.stats = null;
  state.features = null;
  state.statsHistory = [];
}
