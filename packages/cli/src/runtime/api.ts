import type { FastifyInstance } from 'fastify';
import type { Collector, Logger } from '@boxwatch/core';
import type { Detector } from '@boxwatch/detector';
import { buildControlApi } from '../api/server.js';
import { createMetrics } from '../api/metrics.js';
import { consoleBuilt } from '../api/console.js';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load.js';
import { resolveToken } from './token.js';
import type { AlertStore } from './alert-store.js';
import type { CNetworkRuleService } from './cnetwork-rules.js';
import type { EnforcePlugin } from '@boxwatch/plugin-enforce';
import type { EnforcePolicyService } from './enforce-policies.js';

export interface ApiParts {
  collector?: Collector;
  detector?: Detector;
  alerts?: AlertStore;
  extraStats?: () => Record<string, unknown>;
  extraCounters?: () => Record<string, number>;
  cnetworkRules?: CNetworkRuleService | null;
  /** The enforce plugin when enforcement is on (routes /v1/enforce/policies). */
  enforce?: EnforcePlugin | null;
  /** Where API-added policies are saved (default: in memory only). */
  enforcePolicies?: EnforcePolicyService | null;
}

/** Resolve the token (refusing empty/short ones), build the routes for what runs, listen. Null when api.enabled is false. */
export async function startApi(config: BoxwatchConfig, source: ConfigSource, parts: ApiParts, logger: Logger): Promise<FastifyInstance | null> {
  if (!config.api.enabled) return null;
  const { token, origin } = resolveToken(config, source);
  const metrics = createMetrics(parts);
  const app = await buildControlApi({ token, metrics, ...parts });
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    throw source.error(['api', 'port'], `cannot listen on ${config.api.host}:${config.api.port}: ${(err as Error).message}`);
  }
  const addr = app.server.address();
  const where = typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr);
  logger.info({ listen: `http://${where}`, token: origin.startsWith('generated:') ? `generated into ${origin.slice(10)}` : origin }, 'control API listening');
  // The console comes with the agent part (agent, run); its URL never carries the token.
  if (parts.collector) {
    if (consoleBuilt()) logger.info({ url: `http://${where}/` }, 'web console');
    else logger.warn({ package: '@boxwatch/console' }, 'web console not served: its assets are not built (npm run build -w packages/console)');
  }
  return app;
}
