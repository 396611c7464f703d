/**
 * The web console (@boxwatch/console) on the control API's port: its built assets at `/` and the
 * stream its views follow. The assets are public (they hold no data, and the login form must load
 * before the browser has a token); every byte of data still goes through the bearer token, sent by
 * the page in the Authorization header like any API client.
 *
 * GET /v1/console/stream (SSE, behind the token): at connect `containers` (the /v1/containers list)
 * and `features` (the kernel features doctor reports, as the agent probed them); then `container`
 * on every start/stop the runtime reports and `stats` (the /v1/stats body plus the agent's CPU/RSS)
 * every second, with `flows` (bytes between endpoints from net.flow, the Network view's matrix) and
 * `activity` (per container: events/s by family, last CPU/memory sample). The flow matrix is summed
 * from agent start; the rest is computed once per second for all consoles, and only while one is
 * connected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { consoleAssetsDir } from '@boxwatch/console';
import { ALL_FEATURES, probeFeatures, type Collector, type IEvent } from '@boxwatch/core';
import { FlowMatrix } from '../runtime/flow-matrix.js';
import { ContainerActivity } from '../runtime/container-activity.js';

export const STATS_INTERVAL_MS = 1000;

/** True when the console was built (`npm run build -w packages/console`); the CLI warns otherwise. */
export function consoleBuilt(dir = consoleAssetsDir): boolean {
  return existsSync(join(dir, 'index.html'));
}

/** Serve the built console at `/` (no-op when it was not built: startApi logs that). */
export async function serveConsole(app: FastifyInstance, dir = consoleAssetsDir): Promise<void> {
  if (!consoleBuilt(dir)) return;
  await app.register(fastifyStatic, { root: dir, prefix: '/', index: 'index.html', wildcard: false });
}

interface ConsoleSources {
  collector: Collector;
  /** The same body as GET /v1/stats (one source for both). */
  stats: () => Record<string, unknown>;
  /** The same list as GET /v1/containers. */
  containers: () => Array<{ id: string; [k: string]: unknown }>;
}

/** The agent's own CPU (% of one core since the previous call) and resident memory. */
function processSampler(): () => { cpuPercent: number; rssBytes: number } {
  let last = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  return () => {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(last);
    const elapsedUs = Number(now - lastAt) / 1000;
    last = process.cpuUsage();
    lastAt = now;
    return { cpuPercent: elapsedUs > 0 ? ((cpu.user + cpu.system) / elapsedUs) * 100 : 0, rssBytes: process.memoryUsage.rss() };
  };
}

/** Register GET /v1/console/stream inside the token-protected scope. */
export function registerConsoleStream(api: FastifyInstance, src: ConsoleSources, toJSON: (v: unknown) => string): void {
  const { collector } = src;
  // When each container was first seen running by this agent (the runtime API gives no start time here).
  const seenAt = new Map<string, string>();
  const started = new Date().toISOString();
  for (const c of src.containers()) seenAt.set(c.id, started);
  collector.containers.onChange((ch) => {
    if (ch.container.id && ch.kind === 'start') seenAt.set(ch.container.id, new Date().toISOString());
  });
  const view = (c: { id: string; [k: string]: unknown }) => ({ ...c, seenAt: seenAt.get(c.id) });
  const flows = new FlowMatrix();
  collector.on('event', (e) => flows.add(e));

  // One timer and one activity tracker for all connected consoles, only while there is one.
  const clients = new Set<(event: string, data: unknown) => void>();
  let live: { timer: NodeJS.Timeout; activity: ContainerActivity; sample: () => ReturnType<ReturnType<typeof processSampler>>; onEvent: (e: IEvent) => void; offChange: () => void } | null = null;
  const frame = () => ({
    at: new Date().toISOString(),
    ...src.stats(),
    process: live!.sample(),
    flows: { pairs: flows.top(), dropped: flows.dropped },
    activity: live!.activity.take(collector.containers.list().map((c) => c.id)),
  });
  const broadcast = (event: string, data: unknown) => {
    for (const c of clients) c(event, data);
  };
  const attach = () => {
    const activity = new ContainerActivity();
    const onEvent = (e: IEvent) => activity.add(e);
    collector.on('event', onEvent);
    const offChange = collector.containers.onChange((ch) => {
      const id = ch.container.id;
      if (!id) return;
      if (ch.kind === 'stop') activity.forget(id);
      const full = ch.kind === 'start' ? src.containers().find((c) => c.id === id) : undefined;
      broadcast('container', { kind: ch.kind, container: view(full ?? { ...ch.container, id, pid: null, ips: [], running: ch.kind === 'start' }) });
    });
    const timer = setInterval(() => broadcast('stats', frame()), STATS_INTERVAL_MS);
    timer.unref();
    live = { timer, activity, sample: processSampler(), onEvent, offChange };
  };
  const detach = () => {
    if (!live) return;
    clearInterval(live.timer);
    collector.off('event', live.onEvent);
    live.offChange();
    live = null;
  };

  api.get('/v1/console/stream', async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${toJSON(data)}\n\n`);
    if (!live) attach();
    const features = probeFeatures();
    send('features', ALL_FEATURES.map((name) => ({ name, status: features[name].status, detail: features[name].detail })));
    send('containers', src.containers().map(view));
    // The first frame at once (its rates cover the time since the previous frame or the attach).
    send('stats', frame());
    clients.add(send);
    req.raw.on('close', () => {
      clients.delete(send);
      if (clients.size === 0) detach();
    });
  });
}
