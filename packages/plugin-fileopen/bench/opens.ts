/**
 * file.open benchmark: a container opening a file in a tight loop (static C, open + close), run
 * without the plugin, with it reporting every open, with the path on the deny list (walk done,
 * record dropped in the kernel) and in only-writes mode (read-only opens dropped at sys_enter). Prints opens/s, events delivered, events lost and the slow-down.
 * Run from the repo root (vite-node resolves @boxwatch/* to sources):
 *   npm run bench -w packages/plugin-fileopen
 * Env: OPENS (default 200000 per run), RUNS (5 pairs; medians are reported).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileOpenPlugin, DEFAULT_DENY_PREFIXES } from '../src/index.js';
import { captureContext, docker, ensureImage, removeContainers, startContainer, type TestContainer } from '../test/harness.js';

const OPENS = Number(process.env.OPENS ?? 200_000);
const RUNS = Number(process.env.RUNS ?? 5);

const LABEL = { report: 'plugin, every open sent:', denied: 'plugin, path denied:     ', filtered: 'plugin, only-writes:     ' } as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function loop(c: TestContainer): Promise<number> {
  const out = await docker('exec', c.name, '/bin/openloop', '/tmp/bench-file', String(OPENS));
  const [n, ns] = out.split(' ').map(Number);
  return (n! / ns!) * 1e9;
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
    for (const mode of ['report', 'denied', 'filtered'] as const) {
      const base: number[] = [];
      const rates: number[] = [];
      const ratios: number[] = [];
      let events = 0;
      let lost = 0;
      let denied = 0;
      let startMs = 0;
      for (let i = 0; i < RUNS; i++) {
        base.push(await loop(c));
        const cap = captureContext(() => containers);
        cap.ctx.emit = () => void events++;
        const plugin = new FileOpenPlugin({
          variant: 'tp_btf',
          onlyWrites: mode === 'filtered',
          denyPrefixes: mode === 'denied' ? [...DEFAULT_DENY_PREFIXES, '/tmp/bench-'] : DEFAULT_DENY_PREFIXES,
        });
        const t0 = process.hrtime.bigint();
        await plugin.start(cap.ctx);
        startMs = Math.max(startMs, Number(process.hrtime.bigint() - t0) / 1e6);
        rates.push(await loop(c));
        await new Promise((r) => setTimeout(r, 50));
        const s = plugin.stats();
        lost += s.lost;
        denied += s.denied;
        await plugin.stop();
        ratios.push(base[i]! / rates[i]!);
      }
      const b = median(base);
      const r = median(rates);
      console.log(
        `${LABEL[mode]} ${Math.round(r).toLocaleString()} opens/s vs ${Math.round(b).toLocaleString()} without ` +
          `(slow-down ${median(ratios).toFixed(2)}x median of ${RUNS} pairs, ~+${Math.round(1e9 / r - 1e9 / b)} ns/open), ` +
          `events ${events.toLocaleString()} of ${(RUNS * OPENS).toLocaleString()} opens, lost ${lost}, denied ${denied}, slowest start ${startMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await removeContainers(containers);
  }
}

await main();
