import { Collector, NdjsonSink, PrettySink, createLogger, type Sink } from '@boxwatch/core';
import { createPlugin, PLUGIN_NAMES } from '../plugins.js';

export interface CollectOptions {
  plugin: string[];
  format: 'ndjson' | 'pretty';
  duration?: number;
  logLevel?: string;
}

/** Print events of the chosen plugins until interrupted (or for --duration seconds). */
export async function collect(options: CollectOptions): Promise<void> {
  const names = options.plugin.length ? options.plugin : PLUGIN_NAMES;
  const logger = createLogger({ level: options.logLevel });
  const sink: Sink = options.format === 'pretty' ? new PrettySink() : new NdjsonSink();
  const collector = new Collector({ plugins: names.map((n) => createPlugin(n)), sinks: [sink], logger, handleSignals: true });
  await collector.start();
  for (const p of collector.pluginStates()) logger.info({ plugin: p.name, state: p.state, error: p.error }, 'plugin');
  if (options.duration !== undefined) {
    await new Promise((r) => setTimeout(r, options.duration! * 1000));
    await collector.stop();
    const stats = collector.stats();
    logger.info({ events: stats.events.total, lost: Object.fromEntries(Object.entries(stats.plugins).map(([n, s]) => [n, s.lost])) }, 'stopped');
  }
}
