/**
 * Events/s through the default rules + all models on one core, and the detector's heap per 100 containers.
 * Run from the repo root (vite-node resolves @boxwatch/* to sources through vitest.config.ts):
 *   node --expose-gc node_modules/.bin/vite-node -c vitest.config.ts packages/detector/bench/throughput.ts
 * Env: CONTAINERS (100), SECONDS_SIM (60), VARIANT = all | rules | models, ROUNDS (7).
 * Each round reports wall-clock and CPU-time rates (this VM is shared: CPU time is the steadier figure);
 * the summary gives min and median over the rounds after the first (warm-up).
 * Memory: heap after a forced GC (needs --expose-gc) with the detector trained on CONTAINERS containers
 * and run through the detection rounds, minus the heap with the same detector empty (the detection event
 * array is allocated before both readings, the learning events are garbage by the second).
 *
 * Mix per simulated second and container (typical of a busy web container with sequence mode on):
 * 8 syscall.count, 2 syscall.seq (120 syscalls each), ~10 file.open, ~3 net.connect/flow, 1 exec.
 * The models are trained first; the timed part is the detecting phase (the steady state).
 */
import { createEvent, type ContainerInfo, type IEvent } from '@boxwatch/core';
import { Detector } from '../src/index.js';

const CONTAINERS = Number(process.env.CONTAINERS ?? 100);
const SECONDS = Number(process.env.SECONDS_SIM ?? 60);

function containers(n: number): ContainerInfo[] {
  return Array.from({ length: n }, (_, i) => ({ id: i.toString(16).padStart(64, 'c'), name: `app-${i}`, image: `app${i % 10}:1`, imageId: `sha256:${(i % 10).toString().repeat(64)}` }));
}

function build(cs: ContainerInfo[], seconds: number, t0: number): IEvent[] {
  const out: IEvent[] = [];
  const flags = { read: true, write: false, create: false, trunc: false, append: false, excl: false, directory: false, cloexec: true, nofollow: false, tmpfile: false };
  const wflags = { ...flags, read: false, write: true };
  for (let s = 0; s < seconds; s++) {
    for (const [ci, c] of cs.entries()) {
      const time = new Date(t0 + s * 1000 + ci);
      const h = (pid: number, comm: string) => ({ time, ts: BigInt(time.getTime()) * 1_000_000n, host: 'n1', container: c, cgroupId: BigInt(ci + 10), pid, tid: pid, comm });
      for (const [name, id] of [['read', 0], ['write', 1], ['openat', 257], ['close', 3], ['fstat', 5], ['epoll_wait', 232], ['accept4', 288], ['sendfile', 40]] as const) {
        out.push(createEvent('syscall.count', h(0, ''), { syscall: { id, name }, count: 500 + ((s * 7 + id) % 50), interval_ms: 1000 }));
      }
      for (const tid of [1, 2]) {
        const seq: number[] = [];
        for (let i = 0; i < 20; i++) seq.push(288, 0, ...(i % 3 === 0 ? [257, 5, 40, 3] : i % 3 === 1 ? [0, 1] : [1]), 232);
        out.push(createEvent('syscall.seq', { ...h(100, 'nginx'), tid: 100 + tid + ci * 10 }, { syscalls: seq.slice(0, 120) }));
      }
      for (let k = 0; k < 10; k++) {
        const w = k === 0;
        out.push(createEvent('file.open', h(100, 'nginx'), { path: w ? '/var/log/nginx/access.log' : `/usr/share/nginx/html/p${k}.html`, fs: 'overlay', flags: w ? wflags : flags, raw_flags: 0, mode: 0, ret: 5, truncated: false }));
      }
      out.push(createEvent('net.connect', h(100, 'nginx'), { proto: 'tcp', saddr: '172.17.0.2', sport: 40000, daddr: '172.17.0.3', dport: 5432, peer_container: { id: 'db', name: 'db' } }));
      out.push(createEvent('net.flow', h(0, ''), { proto: 'tcp', saddr: '172.17.0.2', sport: 40000, daddr: '172.17.0.3', dport: 5432, state: 'established', bytes_sent: 100, bytes_recv: 100, peer_container: { id: 'db', name: 'db' }, interval_ms: 1000 }));
      out.push(createEvent('net.flow', h(0, ''), { proto: 'tcp', saddr: '172.17.0.2', sport: 80, daddr: '10.0.0.5', dport: 51000, state: 'established', bytes_sent: 5000, bytes_recv: 300, peer_container: null, interval_ms: 1000 }));
      out.push(createEvent('process.exec', h(200 + (s % 50), 'logrotate'), { filename: '/usr/sbin/logrotate', argv: ['logrotate', '/etc/logrotate.conf'], ppid: 1, uid: 0, ns_pid: 9 }));
      if (s % 5 === 0) out.push(createEvent('resource.usage', h(0, ''), { cpu_percent: 2, cpu_throttled_ms: 0, memory_bytes: 5e7, memory_limit_bytes: 5e8, oom_kills: 0, pids: 5, io_read_bytes: 0, io_write_bytes: 0, net_rx_bytes: 0, net_tx_bytes: 0, interval_ms: 5000 }));
    }
  }
  return out;
}

const cs = containers(CONTAINERS);
const t0 = Date.parse('2025-11-28T10:00:00Z');
const detect = build(cs, SECONDS, t0 + 40_000);
const syscallsPerSeq = 120;

const variant = process.env.VARIANT ?? 'all'; // all | rules | models
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const gc = (globalThis as { gc?: () => void }).gc;
const heap = (): number => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};
const d = new Detector({ flushIntervalMs: 0, ...(variant === 'models' ? { rules: [] } : {}), models: variant === 'rules' ? false : { learning: { learnMs: 30_000 } } });
let alerts = 0;
d.on('alert', () => alerts++);
// Learn in 5-second slices so the learning events never all live at once (and are gone before the reading).
for (let s = 0; s < 40; s += 5) for (const e of build(cs, 5, t0 + s * 1000)) d.ingest(e);
if (variant !== 'rules' && d.phase !== 'detecting') throw new Error(`still ${d.phase} after the learning run`);

const wallRates: number[] = [];
const cpuRates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (const e of detect) d.ingest(e);
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const eps = detect.length / (ns / 1e9);
  const cpuEps = detect.length / cpuS;
  if (round > 0) {
    wallRates.push(eps);
    cpuRates.push(cpuEps);
  }
  const seqEvents = detect.filter((e) => e.type === 'syscall.seq').length;
  console.log(
    `round ${round}: ${detect.length} events in ${(ns / 1e6).toFixed(0)} ms wall / ${(cpuS * 1e3).toFixed(0)} ms CPU = ${Math.round(eps).toLocaleString('en')} events/s wall, ` +
      `${Math.round(cpuEps).toLocaleString('en')} events/s CPU (${Math.round((seqEvents * syscallsPerSeq) / cpuS).toLocaleString('en')} sequenced syscalls/s), alerts so far ${alerts}`,
  );
}
const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${Math.round(s[0]!).toLocaleString('en')}, median ${Math.round(s[Math.floor(s.length / 2)]!).toLocaleString('en')}, max ${Math.round(s[s.length - 1]!).toLocaleString('en')}`;
};
console.log(`events/s (${wallRates.length} rounds after warm-up) wall: ${fmt(wallRates)}; CPU: ${fmt(cpuRates)}`);
if (gc) {
  // A second detector, built once everything above has settled (vite-node's loader frees memory for a
  // while after start-up, which made a before/after reading around the first detector meaningless).
  const h0 = heap();
  const d2 = new Detector({ flushIntervalMs: 0, ...(variant === 'models' ? { rules: [] } : {}), models: variant === 'rules' ? false : { learning: { learnMs: 30_000 } } });
  const h1 = heap();
  for (let s = 0; s < 40; s += 5) for (const e of build(cs, 5, t0 + s * 1000)) d2.ingest(e);
  for (const e of detect) d2.ingest(e);
  const h2 = heap();
  // Keep the detection events alive up to here: V8 frees a local after its last use, which would
  // subtract their size from the reading.
  if (detect.length === 0) console.log('no events');
  const mib = (x: number) => (x / 1048576).toFixed(2);
  console.log(
    `heap: empty detector ${mib(h1 - h0)} MiB; trained on ${CONTAINERS} containers (${d2.stats().models.images} images, ${d2.stats().processes} processes) ` +
      `+${mib(h2 - h1)} MiB = ${mib(((h2 - h1) / CONTAINERS) * 100)} MiB per 100 containers`,
  );
  await d2.close();
} else console.log('run with --expose-gc for the memory figure');
const st = d.stats();
console.log(`rules loaded ${st.rules.loaded}, evaluations ${st.rules.evaluations}, matches ${st.rules.matches}; images ${st.models.images}, processes ${st.processes}`);
await d.close();
