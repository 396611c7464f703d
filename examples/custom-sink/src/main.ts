/** Run the syscall and file-open plugins into the custom sink. `node dist/main.js [seconds] [intervalMs]`. */
import { Collector } from '@boxwatch/core';
import { SyscallPlugin } from '@boxwatch/plugin-syscall';
import { FileOpenPlugin } from '@boxwatch/plugin-fileopen';
import { ContainerSummarySink } from './container-summary-sink.js';

const seconds = Number(process.argv[2] ?? 0);
const sink = new ContainerSummarySink({ intervalMs: Number(process.argv[3] ?? 5000) });
const collector = new Collector({ plugins: [new SyscallPlugin(), new FileOpenPlugin()], sinks: [sink], handleSignals: true });
await collector.start();
process.stderr.write('summarising events per container; Ctrl-C to stop\n');
if (seconds > 0) setTimeout(() => void collector.stop().then(() => process.exit(0)), seconds * 1000);
