/**
 * Run the example plugin with the Collector: container enrichment, ndjson on stdout, clean stop on
 * SIGINT/SIGTERM. `node dist/main.js [seconds]` stops by itself after the given time.
 */
import { Collector, NdjsonSink } from '@boxwatch/core';
import { HelloPlugin } from './hello-plugin.js';

const collector = new Collector({ plugins: [new HelloPlugin()], sinks: [new NdjsonSink()], handleSignals: true });
await collector.start();
process.stderr.write(`hello plugin running (${JSON.stringify(collector.pluginStates())}); run mkdir in a container\n`);

const seconds = Number(process.argv[2]);
if (seconds > 0) {
  setTimeout(() => void collector.stop().then(() => process.exit(0)), seconds * 1000);
}
