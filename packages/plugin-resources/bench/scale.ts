/**
 * Cost of one sampling interval as the number of containers grows.
 *
 *   cd /work/main && npx vite-node --config vitest.config.ts packages/plugin-resources/bench/scale.ts [containers=100] [intervals=10]
 *
 * Starts N idle busybox containers (`bwtest-res-bench-*`, removed at the end), runs the plugin over
 * the first 10 and then all N, and prints the median wall time and agent CPU time of an interval
 * (after the first pass, which opens the files and asks Docker for each init pid). For comparison it
 * also times the naive way: readFile (open+fstat+read+close) of the same files every interval.
 */
import { readFile } from 'node:fs/promises';
import { ResourcesPlugin } from '@boxwatch/plugin-resources';
import { docker, ensureImage, makeContext, removeContainers, startContainer, staticResolver, type TestContainer } from '../test/harness.js';

const N = Number(process.argv[2] ?? 100);
const INTERVALS = Number(process.argv[3] ?? 10);
const INTERVAL_MS = 1000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startMany(n: number): Promise<TestContainer[]> {
  const out: TestContainer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      out.push(await startContainer('bench', ['sleep', '3600']));
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return out;
}

async function measurePlugin(containers: TestContainer[]): Promise<{ wallMs: number; cpuMs: number; events: number }> {
  let events = 0;
  const plugin = new ResourcesPlugin({ intervalMs: INTERVAL_MS });
  const walls: number[] = [];
  const cpus: number[] = [];
  await plugin.start(makeContext(staticResolver(containers.map((c) => c.info)), () => events++));
  try {
    let seen = plugin.stats().intervals;
    while (walls.length < INTERVALS) {
      await new Promise((r) => setTimeout(r, 50));
      const s = plugin.stats();
      if (s.intervals === seen) continue;
      seen = s.intervals;
      walls.push(s.lastIntervalMs);
      cpus.push(s.lastIntervalCpuMs);
      if (s.containers !== containers.length) throw new Error(`tracking ${s.containers} of ${containers.length} containers`);
    }
  } finally {
    await plugin.stop();
  }
  return { wallMs: median(walls), cpuMs: median(cpus), events };
}

/** The same files read with readFile every interval (what a straightforward implementation does). */
async function measureNaive(containers: TestContainer[]): Promise<{ wallMs: number; cpuMs: number }> {
  const files = containers.flatMap((c) => [
    `/sys/fs/cgroup/cpuacct/docker/${c.id}/cpuacct.usage`,
    `/sys/fs/cgroup/cpu/docker/${c.id}/cpu.stat`,
    `/sys/fs/cgroup/memory/docker/${c.id}/memory.usage_in_bytes`,
    `/sys/fs/cgroup/memory/docker/${c.id}/memory.stat`,
    `/sys/fs/cgroup/memory/docker/${c.id}/memory.limit_in_bytes`,
    `/sys/fs/cgroup/memory/docker/${c.id}/memory.oom_control`,
    `/sys/fs/cgroup/pids/docker/${c.id}/pids.current`,
    `/sys/fs/cgroup/blkio/docker/${c.id}/blkio.throttle.io_service_bytes_recursive`,
    `/proc/${c.pid}/net/dev`,
  ]);
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < INTERVALS; i++) {
    const w0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await Promise.all(files.map((f) => readFile(f, 'latin1')));
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
    walls.push(Number(process.hrtime.bigint() - w0) / 1e6);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { wallMs: median(walls), cpuMs: median(cpus) };
}

async function main(): Promise<void> {
  await ensureImage();
  console.log(`starting ${N} containers...`);
  const containers = await startMany(N);
  try {
    // Pids are needed by the naive reader; startContainer already inspected them.
    console.log(`host: ${(await docker('info', '-f', '{{.NCPU}} CPUs, cgroup v{{.CgroupVersion}} {{.CgroupDriver}}'))}`);
    console.log('containers | plugin wall ms/interval | plugin CPU ms/interval | CPU µs/container | naive readFile wall ms | naive CPU ms');
    for (const n of [...new Set([Math.min(10, N), N])]) {
      const subset = containers.slice(0, n);
      const p = await measurePlugin(subset);
      const naive = await measureNaive(subset);
      console.log(
        `${String(n).padStart(10)} | ${p.wallMs.toFixed(2).padStart(23)} | ${p.cpuMs.toFixed(2).padStart(22)} | ${((p.cpuMs * 1000) / n).toFixed(0).padStart(16)} | ${naive.wallMs.toFixed(2).padStart(22)} | ${naive.cpuMs.toFixed(2)}`,
      );
    }
  } finally {
    console.log('removing containers...');
    await removeContainers(containers);
  }
}

await main();
