/**
 * boxwatch as a library: start plugins with the Collector, subscribe to the typed event bus and react
 * in your own code, and run the detector in-process (through a DetectorSink: it merges the plugins'
 * ring buffers back into kernel order, which the detector's process context needs). Events are narrowed by `type` to the typed event
 * of each plugin, so `e.path` and `e.flags.write` are checked by the compiler.
 *
 *   node dist/main.js [seconds]
 */
import { Collector, type IEvent } from '@boxwatch/core';
import { FileOpenPlugin, type FileOpenEvent } from '@boxwatch/plugin-fileopen';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { CNetworkPlugin, type NetConnectEvent } from '@boxwatch/plugin-cnetwork';
import { Detector, DetectorSink } from '@boxwatch/detector';

const isFileOpen = (e: IEvent): e is FileOpenEvent => e.type === 'file.open';
const isConnect = (e: IEvent): e is NetConnectEvent => e.type === 'net.connect';

const detector = new Detector({ models: false }); // default rules only
const collector = new Collector({ plugins: [new SyscallPlugin(), new FileOpenPlugin(), new CNetworkPlugin()], sinks: [new DetectorSink(detector)], handleSignals: true });

const where = (e: IEvent) => (e.container ? (e.container.name ?? e.container.id?.slice(0, 12) ?? 'unresolved container') : 'host');
collector.on('event', (e) => {
  if (isFileOpen(e) && e.container && e.flags.write) console.log(JSON.stringify({ kind: 'write', container: where(e), comm: e.comm, path: e.path, fs: e.fs }));
  else if (isConnect(e)) console.log(JSON.stringify({ kind: 'connect', container: where(e), to: `${e.daddr}:${e.dport}`, peer: e.peer_container?.name ?? null }));
});
// Alerts are typed (AlertEvent from @boxwatch/detector): rule, priority and message need no cast.
detector.on('alert', (a) => console.log(JSON.stringify({ kind: 'alert', rule: a.rule ?? a.model, priority: a.priority, container: where(a), message: a.message })));
collector.on('pluginError', (name, err) => console.error(`plugin ${name} failed: ${(err as Error).message}`));

await collector.start();
console.error(`running: ${collector.pluginStates().map((p) => `${p.name}=${p.state}`).join(' ')}`);
const seconds = Number(process.argv[2] ?? 0);
if (seconds > 0) {
  setTimeout(async () => {
    await collector.stop();
    await detector.close();
    process.exit(0);
  }, seconds * 1000);
}
