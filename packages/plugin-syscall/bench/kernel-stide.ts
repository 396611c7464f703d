/**
 * Benchmark of kernel sequence filtering (docs/stide-kernel.md): a busybox `dd bs=1` loop (2 syscalls
 * per byte) in a watched container, CPU time (user + sys from busybox `time -p`: BPF programs run in
 * the task's sys time) and records crossing to userspace, for:
 *   no plugin | plain counting (watch list) | userspace sequence mode | kernel filtering, learn mode |
 *   kernel filtering, detect mode (steady state: the profile learned this workload first).
 * Run as root: npx vite-node -c vitest.config.ts packages/plugin-syscall/bench/kernel-stide.ts
 * Env: BYTES (default 1000000), RUNS (default 5, median reported).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
import { SyscallPlugin, type SyscallPluginOptions } from '@boxwatch/plugin-syscall';
import { ensureImage, harness, removeContainers, startContainer } from '../test/harness.js';

const BYTES = Number(process.env.BYTES ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 5);

/** Asynchronous, so the plugin's ring-buffer drain timer keeps running during the workload. */
async function ddCpu(container: string, bytes = BYTES): Promise<{ cpu: number; wall: number }> {
  const t0 = performance.now();
  const r = await exec('docker', ['exec', container, 'time', '-p', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${bytes}`], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  const user = /user ([\d.]+)/.exec(r.stderr);
  const sys = /sys ([\d.]+)/.exec(r.stderr);
  if (!user || !sys) throw new Error(`unexpected output: ${r.stderr}`);
  return { cpu: Number(user[1]) + Number(sys[1]), wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
type RbStats = Record<string, { records: number; lost: number }>;
const records = (p: SyscallPlugin) => Object.values((p.stats().ringBuffers ?? {}) as RbStats).reduce((a, s) => a + s.records, 0);

async function main() {
  await ensureImage();
  const h = await harness();
  const box = await startContainer('bench', `bwtest-stide-bench-${Math.random().toString(36).slice(2, 8)}`);
  await h.registry.inspect(box.id);
  const rows: Array<{ label: string; cpu: number; records: number; wall: number; lost: number; extra?: string }> = [];
  const measure = async (label: string, p: SyscallPlugin | null, extra?: () => string) => {
    const cpus: number[] = [];
    let recs = 0;
    let wall = 0;
    for (let i = 0; i < RUNS; i++) {
      (p as unknown as { drainSequence?: () => void })?.drainSequence?.();
      const before = p ? records(p) : 0;
      const r = await ddCpu(box.name);
      // Let the 10 ms ring-buffer drain deliver what this run produced before counting it.
      await new Promise((res) => setTimeout(res, 100));
      if (p?.options.kernelSequence) p.drainSequence();
      recs += p ? records(p) - before : 0;
      wall += r.wall;
      cpus.push(r.cpu);
    }
    rows.push({ label, cpu: median(cpus), records: recs / RUNS, wall: wall / RUNS, lost: p ? p.stats().lost : 0, extra: extra?.() });
  };
  try {
    await measure('no plugin', null);
    const base: SyscallPluginOptions = { watch: [box.name], detail: [], processEvents: false, drainIntervalMs: 1000 };
    for (const [label, opts] of [
      ['plain counting (watch list)', base],
      ['userspace sequence mode (syscall.seq)', { ...base, sequence: true }],
    ] as const) {
      const p = new SyscallPlugin(opts);
      await p.start(h.ctx);
      await measure(label, p);
      await p.stop();
    }
    const k = new SyscallPlugin({ ...base, sequence: 'kernel', kernelSequence: { drainIntervalMs: 3_600_000 } });
    await k.start(h.ctx);
    try {
      const image = k.kernelSequence!.profiles()[0]!.image;
      await measure('kernel filtering, learn mode', k);
      // Learn: everything the learn runs counted becomes the known set; then detect.
      k.drainSequence();
      const learned = new Set<number>();
      // The learn-mode drains above emitted syscall.ngrams events into the harness log.
      for (const e of h.log.of<{ ngrams: Array<{ key: number }> }>('syscall.ngrams')) for (const { key } of e.ngrams) learned.add(key);
      k.addKnownNgrams(image, learned);
      k.setSequenceMode(image, 'detect');
      const t0 = k.kernelSequence!.totals(box.id)!;
      await measure('kernel filtering, detect mode', k, () => {
        const t = k.kernelSequence!.totals(box.id)!;
        return `${learned.size} known n-grams; per run ${((t.matches - t0.matches) / RUNS).toFixed(0)} matches, ${((t.mismatches - t0.mismatches) / RUNS).toFixed(1)} mismatches`;
      });
    } finally {
      await k.stop();
    }
    const syscalls = 2 * BYTES;
    const b = rows[0]!.cpu;
    const plain = rows[1]!.cpu;
    console.log(`dd bs=1 count=${BYTES} (~${syscalls} syscalls) in a watched container, median CPU time of ${RUNS} runs`);
    console.log(`${'mode'.padEnd(40)} ${'CPU s'.padStart(6)} ${'+ns/sc'.padStart(7)} ${'vs plain'.padStart(8)} ${'records/run'.padStart(12)} ${'records/s'.padStart(10)} ${'lost'.padStart(5)}`);
    for (const r of rows) {
      console.log(
        `${r.label.padEnd(40)} ${r.cpu.toFixed(2).padStart(6)} ${(((r.cpu - b) * 1e9) / syscalls).toFixed(0).padStart(7)} ${(r.cpu / plain).toFixed(2).padStart(8)} ${r.records.toFixed(1).padStart(12)} ${(r.records / r.wall).toFixed(0).padStart(10)} ${String(r.lost).padStart(5)}${r.extra ? `   (${r.extra})` : ''}`,
      );
    }
  } finally {
    h.registry.close();
    await removeContainers([box]);
  }
}

void main();
