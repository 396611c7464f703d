/**
 * `boxwatch agent`: collection on this host, events to Kafka (or ndjson/pretty on stdout), and the
 * HTTP control API. Detection runs elsewhere (`boxwatch detect`).
 */
import { BackgroundStartSink, Collector, NdjsonSink, PrettySink, createLogger, isBoxwatchError, type Sink } from '@boxwatch/core';
import { KafkaSink } from '@boxwatch/sink-kafka';
import type { BoxwatchConfig } from '../config/schema.js';
import type { ConfigSource, LoadedConfig } from '../config/load.js';
import { createConfiguredPlugins, enforcePlugin, kernelSequencePlugin } from '../runtime/plugins.js';
import { startApi } from '../runtime/api.js';
import { shutdown, waitForStop } from '../runtime/lifecycle.js';
import { CNetworkRuleService } from '../runtime/cnetwork-rules.js';
import { EnforcePolicyService } from '../runtime/enforce-policies.js';

/** Kafka options from the config; a field the sink/source rejects is reported at its place in the file. */
export function kafkaOptions<T>(config: BoxwatchConfig, source: ConfigSource, extra: 'sink' | 'source', build: (o: Record<string, unknown>) => T, base: Record<string, unknown>): T {
  const k = config.kafka;
  try {
    return build({ brokers: k.brokers, topicPrefix: k.topicPrefix, ...base, ...k[extra] });
  } catch (err) {
    if (isBoxwatchError(err, 'ERR_CONFIG') && err.field) {
      const top = err.field.split('.')[0]!;
      const path = top in k[extra] ? ['kafka', extra, ...err.field.split('.')] : ['kafka', ...err.field.split('.')];
      throw source.error(path, err.message.replace(/^.*?: /, ''));
    }
    throw err;
  }
}

export async function agent({ config, source }: LoadedConfig): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  // Before anything loads: a corrupt store of API policies or rules stops the start with its
  // name and the problem, and nothing else in the state directory has been written.
  const savedPolicies = EnforcePolicyService.open(config, logger.child({ component: 'enforce-policies' }));
  const cnetworkRules = CNetworkRuleService.open(config, logger.child({ component: 'cnetwork-rules' }));
  const plugins = createConfiguredPlugins(config, source, savedPolicies);
  if (kernelSequencePlugin(plugins)) {
    logger.warn(
      { plugin: 'syscall', initialMode: kernelSequencePlugin(plugins)!.options.kernelSequence!.initialMode },
      "sequence: kernel is driven by an in-process detector (boxwatch run); in agent mode every image stays in kernelSequence.initialMode",
    );
  }
  const sinks: Sink[] = [];
  // A broker that is down (or restarting) when the agent starts must not stop collection: the sink
  // queues within its bound, counts what it drops, and keeps trying to start.
  if (config.output === 'kafka') sinks.push(new BackgroundStartSink(kafkaOptions(config, source, 'sink', (o) => new KafkaSink(o as never), { logger }), { logger }));
  else if (config.output === 'ndjson') sinks.push(new NdjsonSink());
  else if (config.output === 'pretty') sinks.push(new PrettySink());
  const collector = new Collector({ plugins, sinks, logger });
  await collector.start();
  for (const p of collector.pluginStates()) {
    if (p.state === 'running') logger.info({ plugin: p.name, variant: collector.stats().plugins[p.name]?.variant }, 'plugin running');
    else logger.warn({ plugin: p.name, state: p.state, err: p.error }, 'plugin not running; the others continue');
  }
  await cnetworkRules?.restoreInto(collector);
  let api = null;
  try {
    api = await startApi(config, source, { collector, cnetworkRules, enforce: enforcePlugin(plugins), enforcePolicies: savedPolicies }, logger);
  } catch (err) {
    await collector.stop();
    throw err;
  }
  logger.info({ output: config.output, ...(config.output === 'kafka' ? { brokers: config.kafka.brokers, topicPrefix: config.kafka.topicPrefix } : {}) }, 'agent running');
  const why = await waitForStop(logger, config.duration);
  await shutdown(logger, [
    ['api', async () => void (await api?.close())],
    ['collector', () => collector.stop()],
  ]);
  const s = collector.stats();
  logger.info({ reason: why, events: s.events.total, sinks: s.sinks }, 'stopped');
}
