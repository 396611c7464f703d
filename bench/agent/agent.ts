/**
 * The boxwatch side of the benchmarks, one process per measurement (bundled by bench/lib/build.mjs
 * from the TypeScript sources in the tree). Protocol with bench/run.mjs: one JSON line
 * `{"ready":true,...}` once everything is attached, then on SIGTERM a final drain and one JSON line
 * `{"final":{...}}` before exit. The orchestrator samples CPU and RSS from /proc/<pid> in between.
 *
 *   agent delivery-core <cgroup id>          BpfObject + RingBufferReader (default: staged by its drain thread), recordEvent per record
 *   agent delivery-raw <cgroup id>           the same reader, reading one field per record (no event objects)
 *   agent delivery-inplace <cgroup id>       delivery-core reading in the kernel's ring on the JS thread (stagingBytes: 0)
 *   agent pipeline <cgroup id> ndjson|kafka  the same producer as a BpfPlugin through Collector -> sink
 *   agent syscall counters|default           plugin-syscall through Collector -> NoopSink
 *   agent fileopen                            plugin-fileopen through Collector -> counting sink
 *   agent cnetwork                            plugin-cnetwork through Collector -> counting sink
 *   agent all                                 syscall + fileopen + cnetwork + resources (the default agent) -> NoopSink
 *   agent enforce <container> <n> [latency]   plugin-enforce with n policies selecting <container> (benchPolicies) -> counting
 *                                             sink; with `latency`, also plugin-syscall's process.exit events: each kill's
 *                                             enforce event ts (syscall entry) to the killed task's exit ts
 */
import { openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { hostname } from 'node:os';
import {
  BpfObject,
  BpfPlugin,
  Collector,
  DockerContainerRegistry,
  EVENT_HEADER_SIZE,
  KernelClock,
  NdjsonSink,
  NoopSink,
  recordEvent,
  silentLogger,
  type DecodeContext,
  type IEvent,
  type TypedEvent,
  type Sink,
  type SinkStats,
  emptySinkStats,
  type Userspace,
} from '@boxwatch/core';

const [mode, ...args] = process.argv.slice(2);
const DELIVERY_OBJ = new URL('./delivery.bpf.o', import.meta.url).pathname; // next to the bundle in bench/.build

function out(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}\n`);
}

function onTerm(fn: () => Promise<unknown> | unknown): void {
  let done = false;
  const handler = async () => {
    if (done) return;
    done = true;
    try {
      out({ final: await fn() });
    } catch (err) {
      out({ final: { error: String((err as Error)?.stack ?? err) } });
    }
    process.exit(0);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Counts events handed to it (a sink that only counts, to see what reached the end of the pipeline). */
class CountingSink implements Sink {
  readonly name = 'count';
  count = 0;
  byType: Record<string, number> = {};
  /** Per container name (or "host"), per type: what a benchmark container caused, not the machine. */
  byContainer: Record<string, Record<string, number>> = {};
  write(e: IEvent): void {
    this.count++;
    this.byType[e.type] = (this.byType[e.type] ?? 0) + 1;
    const c = (this.byContainer[e.container?.name ?? 'host'] ??= {});
    c[e.type] = (c[e.type] ?? 0) + 1;
  }
  async close(): Promise<void> {}
  stats(): SinkStats {
    return { ...emptySinkStats(), received: this.count, delivered: this.count };
  }
}

type BenchSyscallEvent = TypedEvent<'bench.syscall', { syscall: number; seq: number }>;

/** The delivery record decoded the way a plugin's hot path does it (recordEvent). */
function decodeBenchRecord(view: DataView, off: number, ctx: DecodeContext): BenchSyscallEvent {
  const e = recordEvent<BenchSyscallEvent>('bench.syscall', view, off, ctx);
  // The record's u64 fields hold values below 2^53 (a syscall id, a counter): read as numbers
  // from their two halves, as plugin-syscall's decoder does; a BigInt each costs ~7 ns.
  e.syscall = view.getUint32(off + EVENT_HEADER_SIZE, true);
  e.seq = view.getUint32(off + EVENT_HEADER_SIZE + 12, true) * 0x1_0000_0000 + view.getUint32(off + EVENT_HEADER_SIZE + 8, true);
  return e;
}

async function deliveryCore(cgroup: string, decode = true, stagingBytes?: number): Promise<void> {
  const containers = new DockerContainerRegistry({ logger: silentLogger });
  await containers.start();
  const ctx: DecodeContext = { host: hostname(), clock: new KernelClock(), containers };
  const t0 = performance.now();
  const obj = BpfObject.open(DELIVERY_OBJ);
  obj.setGlobals({ target_cgroup: BigInt(cgroup) });
  obj.load();
  obj.attach('on_sys_enter');
  let records = 0;
  let checksum = 0;
  const reader = obj.ringBuffer('events', decode ? (view, off) => {
    const e = decodeBenchRecord(view, off, ctx);
    checksum += e.syscall;
    records++;
  } : (view, off) => {
    // Reader only: the cost of delivery without building events (where the time goes).
    checksum += view.getUint32(off + EVENT_HEADER_SIZE, true);
    records++;
  }, stagingBytes === undefined ? {} : { stagingBytes });
  out({ ready: true, loadMs: performance.now() - t0 });
  // SIGUSR2: the counts so far (the benchmark subtracts a warm-up phase). Node keeps SIGUSR1 for its inspector.
  process.on('SIGUSR2', () => {
    reader.drain();
    const s = reader.stats();
    out({ snapshot: { records, lost: s.lost, lostWithRoom: s.lostWithRoom, stagingFull: s.stagingFull } });
  });
  onTerm(() => {
    reader.drain();
    const s = reader.stats();
    obj.close();
    containers.close();
    return { records, lost: s.lost, lostWithRoom: s.lostWithRoom, stagingBytes: s.stagingBytes, stagingFull: s.stagingFull, checksum, decodeErrors: s.decodeErrors };
  });
}

/** The delivery producer as a plugin, so the pipeline measurement is the agent's real path. */
class DeliveryPlugin extends BpfPlugin {
  readonly name = 'bench-delivery';
  readonly eventTypes = ['bench.syscall'];
  readonly variants = [{ name: 'tp_btf', programs: ['on_sys_enter'], requires: ['tp_btf', 'ringbuf'] as const }];
  protected readonly objectPath = DELIVERY_OBJ;
  constructor(private readonly cgroup: bigint) {
    super();
  }
  protected override configure(obj: BpfObject): void {
    obj.setGlobals({ target_cgroup: this.cgroup });
  }
  protected override ringBuffers() {
    return [
      {
        map: 'events',
        onRecord: (view: DataView, off: number) => this.emit(decodeBenchRecord(view, off, this.decodeContext())),
      },
    ];
  }
}

async function runCollector(plugins: Userspace[], sinks: Sink[], extraFinal: () => Record<string, unknown> = () => ({})): Promise<void> {
  // BENCH_KERNEL_NAMES=0: the same agent without the kernel's cgroup-name table (the attribution row's baseline).
  const containers = process.env.BENCH_KERNEL_NAMES === '0' ? new DockerContainerRegistry({ kernelNames: false, logger: silentLogger }) : undefined;
  const collector = new Collector({ plugins, sinks, logger: silentLogger, ...(containers ? { containers } : {}) });
  const t0 = performance.now();
  await collector.start();
  const loadMs = performance.now() - t0;
  const states = Object.fromEntries(Object.entries(collector.stats().plugins).map(([k, v]) => [k, v.state + (v.error ? `: ${v.error}` : '')]));
  out({ ready: true, loadMs, plugins: states });
  // SIGUSR2: the counts so far (the benchmark subtracts a warm-up phase).
  process.on('SIGUSR2', () => out({ snapshot: { stats: collector.stats(), ...extraFinal() } }));
  onTerm(async () => {
    const before = collector.stats();
    const t = performance.now();
    await collector.stop();
    return { stats: before, stopMs: performance.now() - t, ...extraFinal() };
  });
}

/**
 * `n` (<= 10) policies selecting `container`, one of each kind of match, so every check of the
 * kernel's hot path runs for its syscalls: listed syscalls, write-open prefixes, exec prefixes and
 * written files (the sys_exit inode tracking), connects. None matches the dd loop.
 */
function benchPolicies(container: string, n: number): string {
  const all = [
    `match: { exec: { pathPrefixes: [/tmp/, /dev/shm/] } }\n  action: kill`,
    `match: { exec: { writtenFiles: true } }\n  action: kill`,
    `match: { open: { writePrefixes: [/etc/, /usr/bin/] } }\n  action: kill`,
    `match: { syscalls: [unshare] }\n  action: kill`,
    `match: { syscalls: [mount, umount2] }\n  action: deny`,
    `match: { syscalls: [ptrace] }\n  action: kill`,
    `match: { syscalls: [modules] }\n  action: kill`,
    `match: { syscalls: [bpf] }\n  action: audit`,
    `match: { connect: [{ port: 4444 }, { address: 169.254.169.254 }] }\n  action: kill`,
    `match: { syscalls: [kexec_load, kexec_file_load] }\n  action: kill`,
  ];
  return all.slice(0, n).map((m, i) => `- policy: bench-${i}\n  containers: [${container}]\n  ${m}\n`).join('');
}

async function main(): Promise<void> {
  switch (mode) {
    case 'delivery-core':
      return deliveryCore(args[0]!);
    case 'delivery-raw':
      return deliveryCore(args[0]!, false);
    case 'delivery-inplace':
      return deliveryCore(args[0]!, true, 0);
    case 'pipeline': {
      const cg = BigInt(args[0]!);
      const counting = new CountingSink();
      let sink: Sink;
      if (args[1] === 'kafka') {
        const { KafkaSink } = await import('@boxwatch/sink-kafka');
        sink = new KafkaSink({ brokers: process.env.BENCH_KAFKA ?? '127.0.0.1:9092', topicPrefix: `bench${Date.now().toString(36)}`, logger: silentLogger } as never);
      } else {
        // process.stdout to a file or a pipe writes synchronously (Node's SyncWriteStream), which is
        // how `boxwatch agent --output ndjson > file` runs; an fs.WriteStream instead writes on the
        // libuv threadpool, whose thread the saturating producers starve of CPU here.
        const devNull = openSync('/dev/null', 'w');
        sink = new NdjsonSink({ stream: new Writable({ write: (chunk: Buffer, _enc, done) => (writeSync(devNull, chunk), done()) }) });
      }
      return runCollector([new DeliveryPlugin(cg)], [sink, counting], () => ({ counted: counting.count, sinkStats: sink.stats?.() }));
    }
    case 'syscall': {
      const { SyscallPlugin } = await import('@boxwatch/plugin-syscall');
      const opts = args[0] === 'counters' ? { detail: [], processEvents: false } : {};
      return runCollector([new SyscallPlugin(opts)], [new NoopSink()]);
    }
    case 'fileopen': {
      const { FileOpenPlugin } = await import('@boxwatch/plugin-fileopen');
      const counting = new CountingSink();
      const p = new FileOpenPlugin(args[0] ? { containers: [args[0]] } : {});
      return runCollector([p], [counting], () => ({ counted: counting.count }));
    }
    case 'cnetwork': {
      const { CNetworkPlugin } = await import('@boxwatch/plugin-cnetwork');
      const counting = new CountingSink();
      return runCollector([new CNetworkPlugin({})], [counting], () => ({ counted: counting.count, byType: counting.byType, byContainer: counting.byContainer }));
    }
    case 'all': {
      const plugins: Userspace[] = [];
      const failed: Record<string, string> = {};
      const load = async (name: string, make: () => Promise<Userspace>) => {
        try {
          plugins.push(await make());
        } catch (err) {
          failed[name] = String((err as Error).message ?? err);
        }
      };
      await load('syscall', async () => new (await import('@boxwatch/plugin-syscall')).SyscallPlugin({}));
      await load('fileopen', async () => new (await import('@boxwatch/plugin-fileopen')).FileOpenPlugin({}));
      await load('cnetwork', async () => new (await import('@boxwatch/plugin-cnetwork')).CNetworkPlugin({}));
      await load('resources', async () => new (await import('@boxwatch/plugin-resources')).ResourcesPlugin({}));
      if (Object.keys(failed).length) process.stderr.write(`not loaded: ${JSON.stringify(failed)}\n`);
      return runCollector(plugins, [new NoopSink()]);
    }
    case 'enforce': {
      const { EnforcePlugin, parsePoliciesOrThrow } = await import('@boxwatch/plugin-enforce');
      const [container, n, latency] = args;
      const text = benchPolicies(container!, Number(n));
      const plugins: Userspace[] = [new EnforcePlugin({ policies: text ? parsePoliciesOrThrow(text, 'bench.yaml') : [] })];
      // The kill's enforce event (at syscall entry) and the killed task's exit, both kernel ns.
      const entered = new Map<number, bigint>();
      const exited = new Map<number, bigint>();
      const latenciesUs: number[] = [];
      const counting = new CountingSink();
      const pair: Sink = {
        name: 'latency',
        write(e: IEvent) {
          counting.write(e);
          // Two plugins, two ring buffers: either event of a pair may be read first.
          const [mine, other] = e.type === 'enforce.syscall' ? [entered, exited] : e.type === 'process.exit' ? [exited, entered] : [null, null];
          if (!mine || !other) return;
          const t = other.get(e.pid);
          if (t === undefined) return void mine.set(e.pid, e.ts);
          other.delete(e.pid);
          latenciesUs.push(Math.abs(Number(e.ts - t)) / 1000);
        },
        async close() {},
        stats: () => counting.stats(),
      };
      if (latency) plugins.push(new (await import('@boxwatch/plugin-syscall')).SyscallPlugin({ detail: [], processEvents: true }));
      return runCollector(plugins, [pair], () => ({ counted: counting.count, byType: counting.byType, latenciesUs }));
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((err) => {
  out({ error: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
