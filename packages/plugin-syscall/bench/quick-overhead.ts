/**
 * Quick overhead check (not the formal benchmark): time of a busybox `dd bs=1` loop (2 syscalls
 * per byte) in a container and on the host, without the plugin and with it in several modes.
 * Run as root: npx vite-node packages/plugin-syscall/bench/quick-overhead.ts
 */
import { spawnSync } from 'node:child_process';
import { SyscallPlugin, type SyscallPluginOptions } from '@boxwatch/plugin-syscall';
import { ensureImage, harness, removeContainers, startContainer } from '../test/harness.js';

const BYTES = Number(process.env.BYTES ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 3);

/** CPU time (user + sys) of the dd loop from busybox `time -p`: steadier than wall time on a
 * shared machine, and BPF programs run in the task's sys time. */
function timed(cmd: string[]): number {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'time', '-p', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${BYTES}`], { encoding: 'utf8' });
  const user = /user ([\d.]+)/.exec(r.stderr);
  const sys = /sys ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !user || !sys) throw new Error(`unexpected output: ${r.stderr}`);
  return Number(user[1]) + Number(sys[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  await ensureImage();
  const h = await harness();
  const box = await startContainer('bench');
  await h.registry.inspect(box.id);
  try {
    const inBox = ['docker', 'exec', box.name];
    const onHost = ['/bin/busybox'];
    const measure = (where: string[]) => median(Array.from({ length: RUNS }, () => timed(where)));
    const rows: Array<[string, number, number]> = [];
    const base = { box: measure(inBox), host: measure(onHost) };
    rows.push(['no plugin', base.box, base.host]);
    const modes: Array<[string, SyscallPluginOptions]> = [
      ['counters only, watch all', { detail: [], processEvents: false }],
      ['defaults (counters + detail + process)', {}],
      ['watch list (cgroup filter)', { watch: [box.name] }],
      ['watch list + sequence mode', { watch: [box.name], sequence: true }],
    ];
    for (const [label, opts] of modes) {
      const p = new SyscallPlugin({ drainIntervalMs: 1000, ...opts });
      const t0 = performance.now();
      await p.start(h.ctx);
      const loadMs = performance.now() - t0;
      rows.push([`${label} (start ${loadMs.toFixed(0)} ms)`, measure(inBox), measure(onHost)]);
      await p.stop();
    }
    const syscalls = 2 * BYTES;
    console.log(`dd bs=1 count=${BYTES} (${syscalls} syscalls), median of ${RUNS}; ns/syscall added vs no plugin`);
    for (const [label, b, hst] of rows) {
      const add = (t: number, t0: number) => (((t - t0) * 1e9) / syscalls).toFixed(0);
      console.log(`${label.padEnd(58)} container ${b.toFixed(2)} s (+${add(b, base.box)} ns)   host ${hst.toFixed(2)} s (+${add(hst, base.host)} ns)`);
    }
  } finally {
    h.registry.close();
    await removeContainers([box]);
  }
}

void main();
