/**
 * The HTTP control API (fastify). Routes present depend on what the process runs: the agent part
 * (plugins, network rules, containers, stats) needs a Collector; the alert part needs an AlertStore.
 * Everything but /healthz sits behind a bearer token. Request bodies and queries are validated with
 * zod before anything changes; a bad request gets 400 naming the field and leaves state as it was.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import bearerAuth from '@fastify/bearer-auth';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { isBoxwatchError, silentLogger, type Collector } from '@boxwatch/core';
import type { Detector } from '@boxwatch/detector';
import type { CNetworkPlugin } from '@boxwatch/plugin-cnetwork';
import { parsePoliciesOrThrow, type EnforcePlugin, type Policy } from '@boxwatch/plugin-enforce';
import type { Registry } from 'prom-client';
import { PRIORITIES } from '@boxwatch/detector';
import type { AlertStore } from '../runtime/alert-store.js';
import { CNetworkRuleService } from '../runtime/cnetwork-rules.js';
import { EnforcePolicyService } from '../runtime/enforce-policies.js';
import { registerConsoleStream, serveConsole } from './console.js';
import { registerRulesRoutes } from './rules.js';

export interface ControlApiOptions {
  token: string;
  collector?: Collector;
  detector?: Detector;
  alerts?: AlertStore;
  metrics: Registry;
  /** Extra fields for GET /v1/stats (e.g. the Kafka source's counters). */
  extraStats?: () => Record<string, unknown>;
  /** cnetwork rules with their persisted store (default: API rules in memory only). */
  cnetworkRules?: CNetworkRuleService | null;
  /** The enforce plugin when enforcement is on: /v1/enforce/policies. */
  enforce?: EnforcePlugin | null;
  /** API policies with their persisted store (default: in memory only). */
  enforcePolicies?: EnforcePolicyService | null;
}

/** JSON with bigint as decimal strings (cgroup ids, kernel timestamps). */
export function toJSON(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function badRequest(reply: FastifyReply, field: string, message: string) {
  return reply.code(400).send({ error: 'Bad Request', field, message });
}

/** The first zod problem as a 400 naming the field. */
function zodFail(reply: FastifyReply, err: z.ZodError, prefix: string) {
  const issue = err.issues[0]!;
  const path = issue.path.map(String).join('.');
  const field = issue.code === 'unrecognized_keys' ? [prefix, path, issue.keys[0]].filter(Boolean).join('.') : [prefix, path].filter(Boolean).join('.') || prefix;
  return badRequest(reply, field, issue.message);
}

const endpointSchema = z.union([
  z.string().min(1),
  z.object({ ip: z.string().min(1) }).strict(),
  z.object({ container: z.string().min(1) }).strict(),
]);
const ruleBodySchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -').optional(),
    a: endpointSchema,
    b: endpointSchema,
    description: z.string().max(500).optional(),
  })
  .strict();
const deleteBodySchema = z.object({ id: z.string().min(1) }).strict();
const alertQuerySchema = z
  .object({
    priority: z.enum(PRIORITIES, { message: `must be one of ${PRIORITIES.join(', ')}` }).optional(),
    rule: z.string().min(1).optional(),
    container: z.string().min(1).optional(),
    since: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time')
      .transform((s) => new Date(s))
      .optional(),
    limit: z.coerce.number().int().min(1).max(100_000).optional(),
  })
  .strict();

export async function buildControlApi(opts: ControlApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      const err = new Error('body is not valid JSON') as Error & { statusCode: number };
      err.statusCode = 400;
      done(err, undefined);
    }
  });
  // Policies are posted as the policy file's YAML text, so errors name the request's line and field.
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    void reply.code(status).send({ error: status === 400 ? 'Bad Request' : 'Error', field: status === 400 ? 'body' : undefined, message: err.message });
  });

  app.get('/healthz', async () => {
    const plugins = opts.collector?.pluginStates() ?? [];
    return { status: 'ok', plugins: Object.fromEntries(plugins.map((p) => [p.name, p.state])) };
  });

  await app.register(async (api) => {
    const expected = Buffer.from(opts.token);
    await api.register(bearerAuth, {
      keys: [opts.token],
      // Constant-time comparison; bearer-auth's own compare is too, this only pins the behaviour.
      auth: (key: string) => {
        const got = Buffer.from(key);
        return got.length === expected.length && timingSafeEqual(got, expected);
      },
      errorResponse: (err: Error) => ({ error: `Unauthorized: ${err.message}` }),
    });

    api.get('/metrics', async (_req, reply) => {
      const text = await opts.metrics.metrics();
      return reply.type(opts.metrics.contentType).send(text);
    });

    const statsBody = () => ({
      ...(opts.collector ? { collector: opts.collector.stats() } : {}),
      ...(opts.detector ? { detector: opts.detector.stats(), learning: progressView(opts.detector) } : {}),
      ...(opts.extraStats ? opts.extraStats() : {}),
    });
    api.get('/v1/stats', async (_req, reply) => reply.type('application/json').send(toJSON(statsBody())));

    if (opts.collector) registerAgentRoutes(api, opts.collector, opts.cnetworkRules ?? new CNetworkRuleService(null, opts.collector.logger));
    if (opts.alerts) registerAlertRoutes(api, opts.alerts);
    registerEnforceRoutes(api, opts.enforce ?? null, opts.enforcePolicies ?? new EnforcePolicyService(null, opts.collector?.logger ?? silentLogger));
    // The web console's stream (agent and run: it needs the containers).
    const collector = opts.collector;
    if (collector) registerConsoleStream(api, { collector, stats: statsBody, containers: () => containerViews(collector) }, toJSON);
    if (opts.detector) registerRulesRoutes(api, opts.detector, badRequest);
  });
  if (opts.collector) await serveConsole(app);
  return app;
}

function progressView(d: Detector) {
  const p = d.progress();
  return { phase: p.phase, fraction: p.fraction, timeLeftMs: p.timeLeftMs, images: p.images.length };
}

function registerAgentRoutes(api: FastifyInstance, collector: Collector, rules: CNetworkRuleService): void {
  api.get('/v1/plugins', async () => {
    const stats = collector.stats().plugins;
    return collector.pluginStates().map((p) => {
      const plugin = collector.plugin(p.name)!;
      const s = stats[p.name];
      return { name: p.name, state: p.state, error: p.error, variant: s?.variant ?? null, eventTypes: plugin.eventTypes, events: s?.events ?? 0, lost: s?.lost ?? 0 };
    });
  });

  api.post<{ Params: { name: string; action: string } }>('/v1/plugins/:name/:action', async (req, reply) => {
    const { name, action } = req.params;
    if (action !== 'enable' && action !== 'disable') return reply.code(404).send({ error: 'Not Found', message: `no action '${action}' (enable or disable)` });
    if (!collector.plugin(name)) return reply.code(404).send({ error: 'Not Found', field: 'name', message: `no plugin named '${name}'` });
    try {
      if (action === 'enable') await collector.enablePlugin(name);
      else await collector.disablePlugin(name);
    } catch (err) {
      return reply.code(409).send({ error: 'Conflict', message: (err as Error).message });
    }
    const state = collector.pluginStates().find((p) => p.name === name)!;
    // A cnetwork plugin that failed at start gets the saved API rules once it runs.
    if (name === 'cnetwork' && state.state === 'running') await rules.restore(collector.plugin<CNetworkPlugin>('cnetwork')!);
    return { name, state: state.state, error: state.error };
  });

  const cnetwork = (reply: FastifyReply): CNetworkPlugin | null => {
    const state = collector.pluginStates().find((p) => p.name === 'cnetwork');
    if (!state) {
      void reply.code(404).send({ error: 'Not Found', message: 'the cnetwork plugin is not configured in this agent' });
      return null;
    }
    if (state.state !== 'running') {
      void reply.code(409).send({ error: 'Conflict', message: `the cnetwork plugin is ${state.state}; enable it first` });
      return null;
    }
    return collector.plugin<CNetworkPlugin>('cnetwork')!;
  };

  api.get('/v1/cnetwork/rules', async (_req, reply) => {
    const plugin = cnetwork(reply);
    if (!plugin) return reply;
    return rules.list(plugin);
  });

  api.post('/v1/cnetwork/rules', async (req, reply) => {
    const parsed = ruleBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) return zodFail(reply, parsed.error, 'body');
    const plugin = cnetwork(reply);
    if (!plugin) return reply;
    try {
      const view = await rules.add(plugin, parsed.data);
      return reply.code(201).send(view);
    } catch (err) {
      if (isBoxwatchError(err, 'ERR_STATE')) return reply.code(500).send({ error: 'Internal Server Error', message: err.message });
      if (isBoxwatchError(err, 'ERR_CONFIG')) {
        const field = `body.${(err.field ?? 'rule').replace(/^rule\.?/, '')}`.replace(/\.$/, '');
        const status = /exists/.test(err.message) ? 409 : 400;
        return reply.code(status).send({ error: status === 409 ? 'Conflict' : 'Bad Request', field, message: err.message });
      }
      throw err;
    }
  });

  const remove = async (id: string, reply: FastifyReply) => {
    const plugin = cnetwork(reply);
    if (!plugin) return reply;
    let removed: Awaited<ReturnType<CNetworkRuleService['remove']>>;
    try {
      removed = await rules.remove(plugin, id);
    } catch (err) {
      return reply.code(500).send({ error: 'Internal Server Error', message: `cannot save the rule file: ${(err as Error).message}; the rule was not removed` });
    }
    if (!removed) return reply.code(404).send({ error: 'Not Found', field: 'id', message: `no rule '${id}'` });
    return reply.code(200).send(removed);
  };
  api.delete<{ Params: { id: string } }>('/v1/cnetwork/rules/:id', async (req, reply) => remove(req.params.id, reply));
  api.delete('/v1/cnetwork/rules', async (req, reply) => {
    const parsed = deleteBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) return zodFail(reply, parsed.error, 'body');
    return remove(parsed.data.id, reply);
  });

  api.get('/v1/containers', async (_req, reply) => reply.type('application/json').send(toJSON(containerViews(collector))));
}

/** GET /v1/containers' items (also the console's container snapshot). */
function containerViews(collector: Collector) {
  return collector.containers.list().map((info) => {
    const d = collector.containers.details(info.id);
    return { ...info, pid: d?.pid ?? null, ips: d?.ips ?? [], cgroupId: d?.cgroupId ?? null, running: d?.running ?? true };
  });
}

/**
 * Enforcement policies at run time. POST takes a policy file's text (YAML, Content-Type
 * application/yaml): all its policies are added or none; a bad one is refused with the error
 * naming `request:line: field` and the policies in force stay as they were.
 */
function registerEnforceRoutes(api: FastifyInstance, enforce: EnforcePlugin | null, saved: EnforcePolicyService): void {
  const off = (reply: FastifyReply) =>
    reply.code(404).send({ error: 'Not Found', message: 'enforcement is off in this process: start it with --policy FILE or enforce.enabled: true' });

  api.get('/v1/enforce/policies', async (_req, reply) => {
    if (!enforce) return off(reply);
    return { variant: enforce.variantName(), denyEnforcedAs: enforce.denyDegraded() ? 'kill' : 'deny', policies: saved.list(enforce) };
  });

  api.post('/v1/enforce/policies', async (req, reply) => {
    if (!enforce) return off(reply);
    if (typeof req.body !== 'string') return badRequest(reply, 'body', 'send a policy file (YAML) with Content-Type: application/yaml');
    let policies: Policy[];
    try {
      policies = parsePoliciesOrThrow(req.body, 'request');
      saved.add(enforce, policies);
    } catch (err) {
      if (isBoxwatchError(err, 'ERR_STATE')) return reply.code(500).send({ error: 'Internal Server Error', message: err.message });
      if (!isBoxwatchError(err, 'ERR_CONFIG')) throw err;
      const status = /already loaded/.test(err.message) ? 409 : 400;
      return reply.code(status).send({ error: status === 409 ? 'Conflict' : 'Bad Request', field: err.field ?? 'body', ...(err.line ? { line: err.line } : {}), message: err.message });
    }
    return reply.code(201).send({ added: policies.map((p) => p.name), policies: saved.list(enforce) });
  });

  api.delete<{ Params: { name: string } }>('/v1/enforce/policies/:name', async (req, reply) => {
    if (!enforce) return off(reply);
    let removed: ReturnType<EnforcePolicyService['remove']>;
    try {
      removed = saved.remove(enforce, req.params.name);
    } catch (err) {
      return reply.code(500).send({ error: 'Internal Server Error', message: `cannot save the policy file: ${(err as Error).message}; the policy was not removed` });
    }
    if (!removed) return reply.code(404).send({ error: 'Not Found', field: 'name', message: `no policy '${req.params.name}'` });
    return { ...removed, policies: saved.list(enforce) };
  });
}

function registerAlertRoutes(api: FastifyInstance, alerts: AlertStore): void {
  api.get('/v1/alerts', async (req, reply) => {
    const parsed = alertQuerySchema.safeParse(req.query ?? {});
    if (!parsed.success) return zodFail(reply, parsed.error, 'query');
    return reply.type('application/json').send(toJSON(alerts.query({ limit: 1000, ...parsed.data })));
  });

  api.post<{ Params: { id: string } }>('/v1/alerts/:id/ack', async (req, reply) => {
    const acked = alerts.acknowledge(req.params.id);
    if (!acked) return reply.code(404).send({ error: 'Not Found', field: 'id', message: `no retained alert '${req.params.id}'` });
    return reply.type('application/json').send(toJSON(acked));
  });

  /** Server-Sent Events: one `event: alert` per alert (and per count update), same filters as /v1/alerts. */
  api.get('/v1/alerts/stream', async (req, reply) => {
    const parsed = alertQuerySchema.safeParse(req.query ?? {});
    if (!parsed.success) return zodFail(reply, parsed.error, 'query');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': boxwatch alert stream\n\n');
    const unsubscribe = alerts.subscribe(parsed.data, (a) => {
      res.write(`id: ${String(a.id ?? '')}\nevent: alert\ndata: ${toJSON(a)}\n\n`);
    });
    // Comments keep proxies from closing an idle stream.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });
}
