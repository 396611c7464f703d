/**
 * file.open benchmark: a container opening a file in a tight loop (static C, open + close), run
 * without the plugin, with it reporting every open, with the path on the deny list (walk done,
 * record dropped in the kernel) and in only-writes mode (read-only opens dropped at sys_enter). Prints opens/s, events delivered, events lost and the slow-down.
 * Run from the repo root (vite-node resolves @boxwatch/* to sources):
 *   npm run bench -w packages/plugin-fileopen
 * Env: OPENS (default 200000 per run), RUNS (5 pairs; min and median are reported), MODES
 * (comma-separated subset of report,denied,filtered), VARIANT (default tp_btf), COMPARE (path of
 * another build's src/index.ts, e.g. a `git worktree` of an older commit with its bpf/ built:
 * each round then runs baseline, that build and this one, so both are measured against the
 * same baselines).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as current from '../src/index.js';
import { captureContext, docker, ensureImage, removeContainers, startContainer, type TestContainer } from '../test/harness.js';

const LABEL = { report: 'plugin, every open sent:', denied: 'plugin, path denied:     ', filtered: 'plugin, only-writes:     ' } as const;
const OPENS = Number(process.env.OPENS ?? 200_000);
const RUNS = Number(process.env.RUNS ?? 5);
const MODES = (process.env.MODES ?? 'report,denied,filtered').split(',') as (keyof typeof LABEL)[];
const VARIANT = (process.env.VARIANT ?? 'tp_btf') as current.FileOpenVariantName;
type Build = typeof current;
const builds: [string, Build][] = [['this build', current]];
if (process.env.COMPARE) builds.unshift([`COMPARE`, (await import(process.env.COMPARE)) as Build]);


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** "min / median" of a list, formatted. */
function mm(xs: number[], digits: number): string {
  return `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)}`;
}

/** One loop run: opens per second of elapsed time and CPU ns per open of the looping process. */
async function loop(c: TestContainer): Promise<{ rate: number; cpuNs: number }> {
  const out = await docker('exec', c.name, '/bin/openloop', '/tmp/bench-file', String(OPENS));
  const [n, ns, cpu] = out.split(' ').map(Number);
  return { rate: (n! / ns!) * 1e9, cpuNs: cpu! / n! };
}

async function main(): Promise<void> {
  await ensureImage();
  const c = await startContainer();
  const containers = [c];
  try {
    const bin = path.join(mkdtempSync(path.join(tmpdir(), 'bw-fo-')), 'openloop');
    execFileSync('clang', ['-static', '-O2', '-o', bin, fileURLToPath(new URL('./openloop.c', import.meta.url))]);
    await docker('cp', bin, `${c.name}:/bin/openloop`);
    await docker('exec', c.name, 'sh', '-c', 'echo x > /tmp/bench-file');

    // Baseline and plugin runs alternate, each plugin run paired with the baseline run just
    // before it: on a shared machine the load drifts, and the pair sees about the same load.
    for (const mode of MODES) {
      const base: number[] = [];
      const baseCpu: number[] = [];
      const per = builds.map(() => ({ rates: [] as number[], ratios: [] as number[], addedNs: [] as number[], cpuRatios: [] as number[], addedCpuNs: [] as number[], agentNs: [] as number[], starts: [] as number[], events: 0, lost: 0, denied: 0 }));
      for (let i = 0; i < RUNS; i++) {
        const b0 = await loop(c);
        base.push(b0.rate);
        baseCpu.push(b0.cpuNs);
        // Alternate which build runs first so drift within a round favours neither.
        const order = builds.map((_, k) => k);
        if (i % 2 === 1) order.reverse();
        for (const k of order) {
          const m = per[k]!;
          const { FileOpenPlugin, DEFAULT_DENY_PREFIXES } = builds[k]![1];
          const cap = captureContext(() => containers);
          cap.ctx.emit = () => void m.events++;
          const plugin = new FileOpenPlugin({
            variant: VARIANT,
            onlyWrites: mode === 'filtered',
            denyPrefixes: mode === 'denied' ? [...DEFAULT_DENY_PREFIXES, '/tmp/bench-'] : DEFAULT_DENY_PREFIXES,
          });
          const t0 = process.hrtime.bigint();
          await plugin.start(cap.ctx);
          m.starts.push(Number(process.hrtime.bigint() - t0) / 1e6);
          const e0 = m.events;
          const u0 = process.cpuUsage();
          const { rate, cpuNs } = await loop(c);
          await new Promise((r) => setTimeout(r, 50)); // the last drain
          const u = process.cpuUsage(u0);
          if (m.events - e0 > OPENS / 2) m.agentNs.push(((u.user + u.system) * 1000) / (m.events - e0));
          m.rates.push(rate);
          m.cpuRatios.push(cpuNs / baseCpu[i]!);
          m.addedCpuNs.push(cpuNs - baseCpu[i]!);
          const s = plugin.stats();
          m.lost += s.lost;
          m.denied += s.denied;
          await plugin.stop();
          m.ratios.push(base[i]! / rate);
          m.addedNs.push(1e9 / rate - 1e9 / base[i]!);
        }
      }
      const b = median(base);
      for (const [k, m] of per.entries()) {
        const r = median(m.rates);
        console.log(
          `${LABEL[mode]}${builds.length > 1 ? ` [${builds[k]![0]}]` : ''} ${Math.round(r).toLocaleString()} opens/s vs ${Math.round(b).toLocaleString()} without (medians); ` +
            `per pair (min / median of ${RUNS}): slow-down ${mm(m.ratios, 3)}x, +${mm(m.addedNs, 0)} ns/open; ` +
            `loop CPU ${mm(m.cpuRatios, 3)}x, +${mm(m.addedCpuNs, 0)} CPU ns/open (baseline ${median(baseCpu).toFixed(0)}); ` +
            (m.agentNs.length ? `agent CPU ${mm(m.agentNs, 0)} ns/event; ` : '') +
            `events ${m.events.toLocaleString()} of ${(RUNS * OPENS).toLocaleString()} opens, lost ${m.lost}, denied ${m.denied}, ` +
            `start ${mm(m.starts, 1)} ms (max ${Math.max(...m.starts).toFixed(1)})`,
        );
      }
    }
  } finally {
    await removeContainers(containers);
  }
}

await main();
